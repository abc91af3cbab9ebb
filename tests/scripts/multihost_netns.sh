#!/usr/bin/env bash
# A multi-host run over TCP on one machine: three network namespaces ("hosts" h1, h2, h3), each with a veth
# pair whose other end is on a bridge in a fourth namespace (the "switch"), on the private subnet
# 10.77.0.0/24 that exists only inside these namespaces (the machine's own network is untouched; no packet
# leaves it). mpirun runs on h1 and starts one rank per host through an rsh agent that enters the host's
# namespace (and a UTS namespace named after it), with the shared-memory transport off (btl tcp,self,
# pml ob1) and TCP restricted to the bridge subnet. 20 steps with 3 ranks over TCP must give the same
# parameters as the same 20 steps with 3 ranks on one host (shared memory), to 1e-5 relative.
# Needs root (CAP_NET_ADMIN) and iproute2; otherwise exits 77, which CTest reports as skipped.
source "$(dirname "$0")/common.sh" "$@"
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "not root: creating network namespaces needs CAP_NET_ADMIN"
command -v ip >/dev/null || skip "no 'ip' command (install iproute2)"
command -v unshare >/dev/null || skip "no 'unshare' command (util-linux)"

tag="mt$$"                         # unique per run: interface names are limited to 15 characters
hosts=(h1 h2 h3)
switch="${tag}-sw"
cleanup() {
  for h in "${hosts[@]}"; do ip netns del "${tag}-$h" 2>/dev/null || true; done
  ip netns del "$switch" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$switch" 2>"$WORK/netns.err" || skip "cannot create a network namespace: $(cat "$WORK/netns.err")"
ip -n "$switch" link add br0 type bridge 2>"$WORK/netns.err" || skip "cannot create a bridge: $(cat "$WORK/netns.err")"
unshare --uts true 2>"$WORK/netns.err" || skip "cannot create a UTS namespace: $(cat "$WORK/netns.err")"
ip -n "$switch" link set br0 up
ip -n "$switch" link set lo up
i=0
for h in "${hosts[@]}"; do
  i=$((i + 1))
  ns="${tag}-$h"
  ip netns add "$ns"
  # Create the pair inside the switch namespace, then move the host end: no interface ever sits in the
  # machine's own namespace.
  ip -n "$switch" link add "v$h" type veth peer name eth0 netns "$ns"
  ip -n "$switch" link set "v$h" master br0 up
  ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  echo "10.77.0.$i slots=1" >> "$WORK/hostfile"
done
# Every host's link must be up (carrier from the bridge) before MPI starts.
for h in "${hosts[@]}"; do
  for _ in $(seq 20); do
    ip -n "${tag}-$h" link show eth0 | grep -q "state UP" && break
    sleep 0.25
  done
  ip -n "${tag}-$h" link show eth0 | grep -q "state UP" || fail "the link of host $h did not come up"
done

# The rsh agent: like ssh, it gets the host then a command line to run through a shell on that host.
cat > "$WORK/netns-rsh" <<EOF
#!/usr/bin/env bash
host=\$1; shift
case \$host in
  10.77.0.1) h=h1 ;; 10.77.0.2) h=h2 ;; 10.77.0.3) h=h3 ;;
  *) echo "netns-rsh: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "${tag}-\$h" unshare --uts sh -c "hostname \$h && \$*"
EOF
chmod +x "$WORK/netns-rsh"

cfg="$REPO/configs/fashion_mnist.ini"
train_args=(train --config "$cfg" --train.max_steps=20 --train.global_batch_size=96 --train.log_every=5
            --log.progress=false)
# One host, shared memory.
run_np 3 "${train_args[@]}" --checkpoint.dir="$WORK/onehost" > "$WORK/onehost.log" 2>&1 \
  || { cat "$WORK/onehost.log"; fail "training on one host"; }
# Three hosts over TCP. mpirun itself runs on h1 (it must be reachable from the other hosts' daemons).
tcp_flags=(--hostfile "$WORK/hostfile" --map-by node
           --mca plm_rsh_agent "$WORK/netns-rsh" --mca plm_rsh_no_tree_spawn 1
           --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24
           --mca oob_tcp_if_include 10.77.0.0/24)
# shellcheck disable=SC2086
timeout -k 10 "${RUN_TIMEOUT:-300}" ip netns exec "${tag}-h1" unshare --uts sh -c 'hostname h1 && exec "$@"' sh \
  mpirun -np 3 $MPIRUN_FLAGS "${tcp_flags[@]}" \
  --mca btl_base_verbose 30 "$MPITRAIN" "${train_args[@]}" --checkpoint.dir="$WORK/tcp" > "$WORK/tcp.log" 2>&1 \
  || { cat "$WORK/tcp.log"; fail "training on three hosts over TCP"; }
[[ -z ${MULTIHOST_LOG:-} ]] || cp "$WORK/tcp.log" "$MULTIHOST_LOG"   # for a look at Open MPI's verbose output
# Every host's rank must have sent to the others over the TCP BTL (btl_base_verbose prints the choice).
for h in "${hosts[@]}"; do
  grep -q "^\[$h:[0-9]*\] mca: bml: Using tcp btl for send" "$WORK/tcp.log" \
    || { cat "$WORK/tcp.log"; fail "host $h's rank did not send over the TCP BTL"; }
done
grep -h "now connected to" "$WORK/tcp.log" | sed 's/^/  /'

"$PYTHON" - "$WORK" <<'PY' || fail "parameters differ between one host and three hosts over TCP"
import sys, numpy as np, ckpt
work = sys.argv[1]
def params(run):
    s = ckpt.summary(f"{work}/{run}")
    assert s["steps"] == 20 and s["world_size"] == 3 and s["global_batch_size"] == 96, s
    return ckpt.final_parameters(f"{work}/{run}"), s["param_checksum"]
one, one_crc = params("onehost")
tcp, tcp_crc = params("tcp")
rel = np.abs(tcp - one).max() / np.abs(one).max()
print(f"three hosts over TCP vs one host: max |diff| / max |param| = {rel:.3e}; "
      f"checksums {tcp_crc} and {one_crc} ({'identical' if tcp_crc == one_crc else 'different'})")
assert rel <= 1e-5, rel
PY
pass "three ranks on three network-namespace hosts over TCP train as on one host"
