/* report.h — what a person reads: `lmc report` (a leaderboard of results files with 95% intervals, and a
 * scatter per corpus of BPC against a benchmark score), `lmc compare` (the paired difference of two models on
 * the same documents), and the interval lines `lmc eval` prints under its table. Builders fill an lmc_buf;
 * the *_main functions are the command-line side (like lmc_bench_main), the only part that prints. */
#ifndef LMC_REPORT_H
#define LMC_REPORT_H

#include "lmc.h"
#include "lmc_tools.h" /* the report API: lmc_report_render, lmc_compare_text, lmc_intervals_text */
#include "eval/results.h"
#include "common/util.h"

#endif
