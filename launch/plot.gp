# Training curves of launch/plot. Usage:
#   gnuplot -e "dir='RUN_DIR'; intervals=N; epochs=N; validation=0|1; energy=0|1; name='TITLE'" launch/plot.gp
# Reads DIR/curves_interval.dat and DIR/curves_epoch.dat (launch/plot_data.py; their columns below) and
# writes DIR/curves.png (loss, accuracy, learning rate, throughput on one page) and one PNG per figure:
# curves_loss.png, curves_accuracy.png, curves_learning_rate.png, curves_throughput.png and, when the epoch
# records carry energy_joules, curves_energy.png. The x axis is the global step (the interval records'
# running loss, the epoch records' epoch means at the epoch's last step), energy is per epoch.
#   curves_interval.dat: 1 step, 2 epoch, 3 loss, 4 accuracy, 5 learning_rate, 6 samples_per_second, 7 seconds
#   curves_epoch.dat:    1 step, 2 epoch, 3 loss, 4 accuracy, 5 val_loss, 6 val_accuracy, 7 learning_rate,
#                        8 samples_per_second, 9 seconds, 10 energy_joules, 11 joules_per_sample
set datafile missing "n/a"
set grid
set offsets 0, 0, graph 0.06, 0  # room above the highest point (a constant learning rate, accuracy near 1)
set key top right box opaque
iv = dir . "/curves_interval.dat"
ep = dir . "/curves_epoch.dat"

# one plot command per figure, built from the series that have rows (gnuplot refuses a plot of no points)
join(a, b) = (strlen(a) > 0 && strlen(b) > 0) ? a . ", " . b : a . b
series(file, col, style, title) = sprintf("'%s' using 1:%d %s title '%s'", file, col, style, title)
ivline = "with lines lw 1.5 lc rgb '#1f77b4'"
epline = "with linespoints lw 2 pt 7 ps 0.8 lc rgb '#0b3c6b'"
valline = "with linespoints lw 2 pt 5 ps 0.8 lc rgb '#d62728'"

cmd_loss = ""
cmd_acc = ""
cmd_lr = ""
cmd_rate = ""
if (intervals > 0) {
  cmd_loss = series(iv, 3, ivline, "train (interval)")
  cmd_acc = series(iv, 4, ivline, "train (interval)")
  cmd_lr = series(iv, 5, ivline, "interval")
  cmd_rate = series(iv, 6, ivline, "interval")
}
if (epochs > 0) {
  cmd_loss = join(cmd_loss, series(ep, 3, epline, "train (epoch)"))
  cmd_acc = join(cmd_acc, series(ep, 4, epline, "train (epoch)"))
  cmd_lr = join(cmd_lr, series(ep, 7, epline, "epoch end"))
  cmd_rate = join(cmd_rate, series(ep, 8, epline, "epoch"))
}
if (validation > 0) {
  cmd_loss = join(cmd_loss, series(ep, 5, valline, "validation"))
  cmd_acc = join(cmd_acc, series(ep, 6, valline, "validation"))
}

# panel(what): the settings and the plot of one figure
xl = "step (global)"
loss_panel = "set title 'Loss'; set xlabel xl; set ylabel 'cross-entropy'; set yrange [0:*]; set format y '%g'; plot " . cmd_loss
acc_panel = "set title 'Accuracy'; set xlabel xl; set ylabel 'accuracy'; set yrange [*:*]; set key bottom right; plot " . cmd_acc . "; set key top right"
lr_panel = "set title 'Learning rate'; set xlabel xl; set ylabel 'learning rate'; set yrange [0:*]; set format y '%.1e'; plot " . cmd_lr . "; set format y '%g'"
rate_panel = "set title 'Throughput'; set xlabel xl; set ylabel 'samples/s (all ranks)'; set yrange [0:*]; plot " . cmd_rate

set terminal pngcairo size 1200,860 font ",10"
set output dir . "/curves.png"
set multiplot layout 2,2 title "Training curves: " . name noenhanced  # a run name may hold _ (not a subscript)
eval loss_panel
eval acc_panel
eval lr_panel
eval rate_panel
unset multiplot

set terminal pngcairo size 760,480 font ",11"
set output dir . "/curves_loss.png"
eval loss_panel
set output dir . "/curves_accuracy.png"
eval acc_panel
set output dir . "/curves_learning_rate.png"
eval lr_panel
set output dir . "/curves_throughput.png"
eval rate_panel

if (energy > 0) {
  set output dir . "/curves_energy.png"
  set title "Energy per epoch (IT energy, all ranks)"
  set xlabel "epoch"
  set ylabel "energy (J)"
  set y2label "joules per sample"
  set y2tics
  set ytics nomirror
  set yrange [0:*]
  set y2range [0:*]
  set xtics 1
  set boxwidth 0.6
  set style fill solid 0.5
  set key top left
  plot ep using 2:10 with boxes lc rgb '#2ca02c' title "energy (J)", \
       ep using 2:11 axes x1y2 with linespoints lw 2 pt 7 lc rgb '#0b3c6b' title "J per sample"
}
unset output
