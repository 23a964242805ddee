/* bench.h — `lmc bench`: evaluation speed against the machine's own sgemm, measured in one run. */
#ifndef LMC_BENCH_H
#define LMC_BENCH_H

/* argv[1] is "bench". Prints the report; returns the process exit status. */
int lmc_bench_main(int argc, char **argv);

#endif
