# shellcheck shell=bash
# wrk_read: reads wrk's output on stdin and prints "SECONDS MIB_READ REQUESTS_PER_S". Large
# transfers are measured by the bytes read: a 64 MiB run completes a few dozen responses, so
# a rate from completed responses moves in steps of several per cent.
wrk_read() {
  awk '
    function mib(v) {
      if (v ~ /GB$/) return v * 1024; if (v ~ /MB$/) return v * 1; if (v ~ /KB$/) return v / 1024
      return v / 1048576
    }
    /requests in/ { sub(/s,$/, "", $4); d = $4; m = mib($5) }
    /^Requests\/sec:/ { r = $2 }
    END { print d, m, r }'
}
