# shellcheck shell=bash
# CPUs for benchmarks that pin processes (taskset).

# pick_cpus: sets S3_CPU and CLIENT_CPU to the first two CPUs this shell may run on (its
# affinity list, ranges expanded, so a cpuset such as 2-3 works too). Returns 1 without
# taskset or with fewer than two CPUs.
pick_cpus() {
  command -v taskset >/dev/null || return 1
  local list cpus
  list=$(taskset -pc $$ | sed 's/.*: //')
  cpus=$(awk -v list="$list" 'BEGIN {
    n = split(list, parts, ",")
    for (i = 1; i <= n; i++) {
      if (split(parts[i], range, "-") == 2) { for (c = range[1]; c <= range[2]; c++) print c }
      else print parts[i]
    }
  }' | head -n 2)
  [ "$(printf '%s\n' "$cpus" | grep -c .)" -ge 2 ] || return 1
  S3_CPU=$(printf '%s\n' "$cpus" | sed -n 1p)
  CLIENT_CPU=$(printf '%s\n' "$cpus" | sed -n 2p)
  export S3_CPU CLIENT_CPU
}

# affinity PID: the CPU list PID may run on (to give it back after pinning).
affinity() {
  taskset -pc "$1" | sed 's/.*: //'
}

# pin PID CPUS: the process and all its threads on CPUS (threads started later inherit it).
pin() {
  taskset -a -p -c "$2" "$1" >/dev/null
}
