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

# congestion_control: the TCP congestion control new connections get (the system default), and
# the one the route to 127.0.0.1 sets instead, if any. It is the sender's, and one that paces
# (bbr) changes what a relay like quillstore pays per MiB on loopback (docs/benchmarks.md).
congestion_control() {
  local control route
  control=$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown)
  route=$(ip route show table local 127.0.0.1 2>/dev/null | grep -o 'congctl [^ ]*' || true)
  echo "$control${route:+ (the route to 127.0.0.1: $route)}"
}
