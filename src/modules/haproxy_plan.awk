function first(s,  w) { split(s, w, " "); return w[1] }
function serving(s) { return first(s) == "UP" || s == "no check" }
function emit(px, s, c) { print "cmd", px, s, c }
BEGIN { FS = ","; OFS = "\t"; n = split(servers, targets, " ") }
/^# / { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
NF < 2 || !("status" in col) { next }
$col["svname"] == "FRONTEND" || $col["svname"] == "BACKEND" { next }
{
  px = $col["pxname"]; sv = $col["svname"]
  st[px, sv] = $col["status"]; scur[px, sv] = $col["scur"] + 0
  checked[px, sv] = ($col["chkfail"] != ""); wt[px, sv] = $col["weight"]
  if (!(px in known)) { known[px] = 1; pxs[++npx] = px }
  if (serving($col["status"])) up[px]++
  total[px]++
}
END {
  for (t = 1; t <= n; t++) {
    s = targets[t]; found = 0
    for (p = 1; p <= npx; p++) {
      px = pxs[p]
      if ((backend != "" && px != backend) || !((px, s) in st)) continue
      found = 1; np++; P[np] = px; S[np] = s
      print "pair", px, s, st[px, s], scur[px, s]
      if (serving(st[px, s])) lose[px]++
    }
    if (!found && backend != "") { print "unknown", backend, s; unknown[++nu] = s }
    else if (!found) print "missing", s
  }
  if (want != "enabled" && min_up > 0)
    for (px in lose) if (up[px] - lose[px] < min_up) print "refuse", px, up[px] + 0, lose[px], total[px]
  verb = (want == "enabled") ? "enable" : "disable"
  for (u = 1; u <= nu; u++)
    emit(backend, unknown[u], (want == "enabled" ? "enable" : want == "drain" ? "set" : "disable") \
      " server " backend "/" unknown[u] (want == "drain" ? " state drain" : ""))
  for (k = 1; k <= np; k++) {
    px = P[k]; s = S[k]; id = px "/" s; f = first(st[px, s])
    if (want == "enabled") {
      if (f == "MAINT" || f == "DRAIN") {
        # Leaving maintenance, HAProxy sends traffic at once; forced DOWN, it waits for a
        # passing health check (servers without checks would stay DOWN: not those).
        c = "set server " id " state ready"
        if (f == "MAINT" && checked[px, s]) c = c "; set server " id " health down"
        emit(px, s, c)
      }
      if (weight != "" && (weight ~ /%$/ || weight != wt[px, s])) emit(px, s, "set weight " id " " weight)
    } else if (want == "drain") {
      if (f != "DRAIN") emit(px, s, "set server " id " state drain")
    } else if (f != "MAINT") {
      if (drain) {
        if (f != "DRAIN") emit(px, s, "set server " id " state drain")
        print "drainwait", px, s
      } else {
        c = "disable server " id
        if (shutdown) c = c "; shutdown sessions server " id
        emit(px, s, c)
      }
    }
    if (agent) print "extra", px, s, verb " agent " id
    if (health) print "extra", px, s, verb " health " id
  }
}
