#!/bin/bash
# /tmp/pack-cmp.sh ROUNDS : same binaries, DFS_PACK off and on in turn
cd /work/main
for r in $(seq 1 ${1:-3}); do
  for mode in off on; do
    s0=$(awk '{print $5, $10}' /sys/block/vda/stat)
    if [ $mode = on ]; then out=$(DFS_PACK=1 target/release/bench --only small --small-files 4000 2>&1); else out=$(target/release/bench --only small --small-files 4000 2>&1); fi
    s1=$(awk '{print $5, $10}' /sys/block/vda/stat)
    c1=$(echo "$out" | grep "^  4 KiB files created, 1 client" | awk '{print $(NF-7)}')
    c16=$(echo "$out" | grep "^  4 KiB files created, 16 client" | awk '{print $(NF-7)}')
    r16=$(echo "$out" | grep "^  4 KiB files read back, 16 client" | awk '{print $(NF-7)}')
    echo "round $r pack=$mode create1=$c1 create16=$c16 read16=$r16 disk_writes=$(( $(echo $s1 | cut -d' ' -f1) - $(echo $s0 | cut -d' ' -f1) ))"
  done
done
