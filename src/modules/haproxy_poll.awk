BEGIN { FS = ","; OFS = "\t"; n = split(pairs, p, " "); for (i = 1; i <= n; i++) wanted[p[i]] = 1; done = 1 }
/^# / { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
NF > 1 && (($col["pxname"] "/" $col["svname"]) in wanted) {
  s = $col["status"]; c = $col["scur"] + 0; seen++
  print "now", $col["pxname"], $col["svname"], s, c
  if (mode == "drained" && c > 0) done = 0
  if (mode == "up" && !((s ~ /^UP( |$)/ && s !~ /^UP [0-9]+\/[0-9]+/) || s == "no check")) done = 0
  if (mode == "maint" && s !~ /^MAINT/) done = 0
  if (mode == "drain" && s !~ /^DRAIN/) done = 0
}
END { if (seen < n) done = 0; print (done ? "done" : "pending") }
