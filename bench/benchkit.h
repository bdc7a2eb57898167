/*
 * benchkit.h: the clock and the statistics every benchmark program shares
 * (ipckit.h and flowkit.h include it). Not a benchmark, and no daemon,
 * store or engine: nothing here can fail.
 */
#ifndef AF_BENCHKIT_H
#define AF_BENCHKIT_H

/* CLOCK_MONOTONIC in seconds. */
double now_s(void);
/* CLOCK_PROCESS_CPUTIME_ID in seconds: the process's CPU time. */
double cpu_s(void);
/* qsort comparator of doubles, ascending. */
int cmp_double(const void *a, const void *b);
/* Sorts v[0..n) ascending and returns its median (the mean of the middle
 * two when n is even). */
double median(double *v, int n);

#endif /* AF_BENCHKIT_H */
