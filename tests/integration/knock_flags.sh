# Every TCP flag letter of a knock frame, through the engine: a one-frame
# knock per letter, hit with every kind of frame the client can send; each
# trigger opens for its own frame and for nothing else.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
NFQK=${NFQK:-$top/$O/nfq-knock}

letters="f s r p a u x n i"
{
	printf '[engine]\nqueue = 0\n'
	port=8100
	for l in $letters; do
		port=$((port + 1))
		printf '[knock flag_%s]\nsequence = tcp:%d:%s\nopen = tcp:%d\nallow_timeout = 1m\n' \
		    "$l" "$port" "$l" $((port + 1000))
	done
} >"$work/flags.ini"
chmod 600 "$work/flags.ini"
start_engine "$work/flags.ini" || exit 1

# Which frames a letter accepts: i takes anything, the others exactly theirs.
accepts() {	# accepts LETTER SENT
	[ "$1" = i ] || [ "$1" = "$2" ]
}
port=8100
for l in $letters; do
	port=$((port + 1))
	wrong=0 missed=0
	for sent in f s r p a u x n; do
		"$NFQK" -d 0ms 127.0.0.1 "tcp:$port:$sent"
		sleep 0.05
		members=$(allow_members "flag_${l}_allow4")
		if accepts "$l" "$sent"; then
			[ "$members" = 127.0.0.1 ] || missed=$((missed + 1))
		else
			[ -z "$members" ] || wrong=$((wrong + 1))
		fi
		# Forget the member, so the next frame is judged on its own.
		nft flush set inet nfq_trigger "flag_${l}_allow4"
	done
	expect_eq "knock_flag_${l}_opens_for_its_frame" 0 "$missed"
	expect_eq "knock_flag_${l}_opens_for_nothing_else" 0 "$wrong"
done
stop_engine
