# Plots of launch/scaling. Usage:
#   gnuplot -e "out='DIR'; data='RUNS'; sweeps='strong weak'; maxn=4; cores=2; what='speedup'" launch/scaling.gp
# what: speedup (against ideal), efficiency, or energy; reads RUNS/scaling_<sweep>.dat, writes
# DIR/scaling_<what>.png. World sizes above `cores` are marked as oversubscribed.
set terminal pngcairo size 720,460 font ",11"
set datafile missing "n/a"
set key top left box opaque
set grid
set xlabel "world size (ranks)"
set xtics 1
set xrange [0.8:maxn + 0.2]
if (maxn > cores) {
  set arrow from cores + 0.5, graph 0 to cores + 0.5, graph 1 nohead dt 3 lc "gray40"
  set label "oversubscribed (ranks > cores)" at cores + 0.55, graph 0.06 tc "gray40"
}
file(s) = data . "/scaling_" . s . ".dat"
set output out . "/scaling_" . what . ".png"
if (what eq "speedup") {
  set title "Speedup (samples/s over the 1-rank run)"
  set ylabel "speedup"
  set yrange [0:maxn + 0.5]
  plot for [s in sweeps] file(s) using 1:2 with linespoints lw 2 pt 7 title s, \
       x with lines dt 2 lc "black" title "ideal"
}
if (what eq "efficiency") {
  set title "Parallel efficiency (speedup / world size)"
  set ylabel "efficiency"
  set yrange [0:1.15]
  plot for [s in sweeps] file(s) using 1:3 with linespoints lw 2 pt 7 title s, \
       1 with lines dt 2 lc "black" title "ideal"
}
if (what eq "energy") {
  set title "Energy per training sample"
  set ylabel "joules per sample"
  set yrange [0:*]
  plot for [s in sweeps] file(s) using 1:4 with linespoints lw 2 pt 7 title s
}
