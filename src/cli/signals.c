/* signals.c — SIGINT and SIGTERM for the long-running subcommands (eval, compress, decompress): the first one
 * sets a flag that the library polls between windows (lmc_eval_opts.stop) or symbols (lmcz_opts.stop), so that
 * the run ends cleanly — the checkpoint holds every finished window, no output file is written, the locks are
 * released — and exits 128 + the signal's number (130, 143). A second one exits at once: the checkpoint is still
 * valid then, because its records are appended whole and a torn last one is dropped at resume. */
#include "cli/cli.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

/* The one process-wide state of the command line: a handler can reach nothing else. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    if (stop_signal) _exit(128 + sig);
    stop_signal = sig;
}

const volatile sig_atomic_t *cli_stop_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* reads and writes in progress complete; the flag is polled */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_signal;
}

int cli_exit_status(int status) { return status && stop_signal ? 128 + stop_signal : status; }
