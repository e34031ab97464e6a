/* CPU-side helpers of `reverie bench ops`: the measured FMA peak of this CPU
 * (the yardstick of "% of peak") and the PyTorch coprocess of --compare-torch.
 * Not part of the library; no GPU use here. */
#define _POSIX_C_SOURCE 200809L
#include "bench_cpu.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define RV_HAVE_FMA_PEAK 1
#endif

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct peak_job {
    double seconds;
    double flops, elapsed, cpu;
    float sink;
} peak_job;

#ifdef RV_HAVE_FMA_PEAK
/* 10 independent chains of 8-lane FMAs: enough to cover 2 FMA pipes of 4-5
 * cycles latency, so the loop is throughput-bound. The chains are named
 * variables, not an array: gcc 12 -O2 kept an array of them in memory (a
 * load, FMA and store per step, 31 instead of 90 GFLOP/s a core on this
 * machine's EPYC). */
#define RV_FMA10(x) \
    do { \
        x##0 = _mm256_fmadd_ps(x##0, m, c); x##1 = _mm256_fmadd_ps(x##1, m, c); \
        x##2 = _mm256_fmadd_ps(x##2, m, c); x##3 = _mm256_fmadd_ps(x##3, m, c); \
        x##4 = _mm256_fmadd_ps(x##4, m, c); x##5 = _mm256_fmadd_ps(x##5, m, c); \
        x##6 = _mm256_fmadd_ps(x##6, m, c); x##7 = _mm256_fmadd_ps(x##7, m, c); \
        x##8 = _mm256_fmadd_ps(x##8, m, c); x##9 = _mm256_fmadd_ps(x##9, m, c); \
    } while (0)
__attribute__((target("avx2,fma"))) static void *peak_thread(void *arg)
{
    peak_job *j = arg;
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(1.00f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f),
           a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f),
           a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f),
           a9 = _mm256_set1_ps(1.09f);
    const long inner = 1 << 16;
    long iters = 0;
    double t0 = now_s(), c0 = thread_cpu_s(), t;
    do {
        for (long k = 0; k < inner; k++)
            RV_FMA10(a);
        iters += inner;
        t = now_s();
    } while (t - t0 < j->seconds);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(a8, a9));
    float out[8];
    _mm256_storeu_ps(out, s);
    j->sink = out[0];
    j->flops = (double)iters * 10 * 8 * 2;
    j->elapsed = t - t0;
    j->cpu = thread_cpu_s() - c0;
    return NULL;
}
#endif

double rv_bench_fma_peak(int threads, double seconds, int *width, double *wall_gflops)
{
    *width = 0;
    *wall_gflops = 0;
#ifdef RV_HAVE_FMA_PEAK
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return 0;
    if (threads < 1 || threads > 256)
        return 0;
    pthread_t tid[256];
    peak_job jobs[256];
    int started = 0;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (peak_job){.seconds = seconds};
        if (pthread_create(&tid[i], NULL, peak_thread, &jobs[i]) != 0)
            break;
        started++;
    }
    double total = 0, wall = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        total += jobs[i].cpu > 0 ? jobs[i].flops / jobs[i].cpu : 0;
        wall += jobs[i].elapsed > 0 ? jobs[i].flops / jobs[i].elapsed : 0;
    }
    *wall_gflops = wall * 1e-9;
    if (started != threads)
        return 0;
    *width = 256;
    return total * 1e-9;
#else
    (void)threads;
    (void)seconds;
    return 0;
#endif
}

bool rv_torch_start(rv_torch_proc *tp, const char *script, int threads)
{
    memset(tp, 0, sizeof(*tp));
    signal(SIGPIPE, SIG_IGN); /* a dead coprocess is an error reply, not our end */
    int in[2], out[2];
    if (pipe(in) != 0)
        return false;
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return false;
    }
    char nthreads[16];
    snprintf(nthreads, sizeof(nthreads), "%d", threads);
    pid_t pid = fork();
    if (pid < 0) {
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return false;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        setenv("OMP_NUM_THREADS", nthreads, 1);
        execl("/usr/bin/python3", "python3", script, "--threads", nthreads, (char *)NULL);
        fprintf(stderr, "reverie bench: cannot run /usr/bin/python3 %s\n", script);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fcntl(in[1], F_SETFD, FD_CLOEXEC); /* no later child keeps the coprocess's stdin open */
    fcntl(out[0], F_SETFD, FD_CLOEXEC);
    tp->pid = (int)pid;
    tp->to = fdopen(in[1], "w");
    tp->from = fdopen(out[0], "r");
    if (!tp->to || !tp->from) {
        rv_torch_stop(tp);
        return false;
    }
    char line[256];
    if (!fgets(line, sizeof(line), tp->from) || strncmp(line, "ready", 5) != 0) {
        fprintf(stderr, "reverie bench: the PyTorch side (%s) did not start\n", script);
        rv_torch_stop(tp);
        return false;
    }
    return true;
}

bool rv_torch_time(rv_torch_proc *tp, const char *op, const uint32_t p[6], double seconds, double *ms)
{
    if (!tp->to || !tp->from)
        return false;
    fprintf(tp->to, "%s %u %u %u %u %u %u %g\n", op, p[0], p[1], p[2], p[3], p[4], p[5], seconds);
    fflush(tp->to);
    char line[256];
    if (!fgets(line, sizeof(line), tp->from))
        return false;
    char *end = NULL;
    double v = strtod(line, &end);
    if (end == line || v <= 0)
        return false;
    *ms = v;
    return true;
}

void rv_torch_stop(rv_torch_proc *tp)
{
    if (tp->to)
        fclose(tp->to); /* end of input: the script exits */
    if (tp->from)
        fclose(tp->from);
    if (tp->pid > 0) {
        int status;
        waitpid((pid_t)tp->pid, &status, 0);
    }
    memset(tp, 0, sizeof(*tp));
}
