/* Unit tests use cmocka; this pulls in what its header needs first. */
#ifndef NFQT_UNIT_H
#define NFQT_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif
