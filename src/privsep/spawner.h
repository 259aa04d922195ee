/*
 * The spawner process (docs/design.md, Decision 2): forked by the
 * privileged side, it runs each hook it is asked for over its socketpair
 * (spawn_proto.h) and reports what became of it. It never sees packets.
 */
#ifndef NFQT_SPAWNER_H
#define NFQT_SPAWNER_H

/*
 * Become the spawner on fd, our end of a SOCK_SEQPACKET socketpair: shed
 * inherited signals, descriptors and environment, serve requests until the
 * other end closes and the last hook has finished, then _exit.
 */
_Noreturn void spawner_main(int fd);

#endif
