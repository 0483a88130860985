# shellcheck shell=bash
# Summaries of benchmark figures.

# median: the middle of the numbers on stdin, one per line (the lower of the two middle ones
# for an even count, so the median is always one of the figures measured).
median() {
  LC_ALL=C sort -g | awk '{ values[NR] = $1 } END { print values[int((NR + 1) / 2)] }'
}
