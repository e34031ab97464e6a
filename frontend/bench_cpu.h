/* CPU-side helpers of `reverie bench ops`: this CPU's measured FMA peak and
 * the PyTorch coprocess of --compare-torch. Not part of the library. */
#ifndef RV_BENCH_CPU_H
#define RV_BENCH_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The measured single-precision FMA peak, in GFLOP/s (an FMA counts 2),
 * of `threads` threads each running independent 256-bit FMA chains for about
 * `seconds`, per second of each thread's own CPU time (so other processes
 * sharing the cores do not lower it; *wall_gflops is the same per wall-clock
 * second, what the threads got now); 0 where it cannot be measured (not
 * x86-64 or no FMA/AVX2). `width` receives the vector width in bits used. */
double rv_bench_fma_peak(int threads, double seconds, int *width, double *wall_gflops);

/* tools/bench_ops_torch.py run as a coprocess: one case per request. */
typedef struct rv_torch_proc {
    FILE *to, *from;
    int pid;
} rv_torch_proc;

/* Starts it with `threads` threads and OMP_WAIT_POLICY=PASSIVE; false (and a
 * message on stderr) when it cannot start or torch does not import. */
bool rv_torch_start(rv_torch_proc *tp, const char *script, int threads);
/* Times one case: op is rv_op_names[op], p the six shape numbers; *ms the
 * median of its runs; false when the coprocess failed or does not know it. */
bool rv_torch_time(rv_torch_proc *tp, const char *op, const uint32_t p[6], double seconds, double *ms);
void rv_torch_stop(rv_torch_proc *tp);

#endif
