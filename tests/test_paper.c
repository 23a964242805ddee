/* test_paper.c — the paper's leaderboard (data/paper_leaderboard.tsv, src/report/paper.c): the shipped table
 * parses to the 28 rows with its attribution, and a damaged table is refused naming the line. */
#include "test.h"
#include "lmc_paper.h"

static void test_shipped_table(void) {
    lmc_paper p;
    lmc_err err;
    REQUIRE(lmc_paper_load("data/paper_leaderboard.tsv", &p, &err) == 0, "%s", err.msg);
    CHECK(p.n == 28, "%zu models", p.n);
    CHECK(!strcmp(p.model[0], "Llama-3-70b") && p.bpc[0][0] == 0.496 && p.bpc[0][1] == 0.204 && p.bpc[0][2] == 0.376 &&
          p.average[0] == 0.359, "first row %s %g %g %g %g", p.model[0], p.bpc[0][0], p.bpc[0][1], p.bpc[0][2],
          p.average[0]);
    CHECK(!strcmp(p.model[27], "Falcon-7b") && p.bpc[27][2] == 0.541, "last row %s", p.model[27]);
    CHECK(strstr(p.source, "hkust-nlp/llm-compression-intelligence") && strstr(p.source, "Compression Leaderboard"),
          "attribution: %s", p.source);
    for (size_t i = 1; i < p.n; i++) CHECK(p.average[i] >= p.average[i - 1], "row %zu out of order", i);
    lmc_paper_free(&p);
    CHECK(lmc_paper_corpus("cc") == 0 && lmc_paper_corpus("arxiv_math") == 2 && lmc_paper_corpus("CC") == -1 &&
          lmc_paper_corpus("arxiv") == -1, "subset names match exactly");
}

static void test_damaged_tables(void) {
    static const struct { const char *text, *needle; } bad[] = {
        {"# src\nmodel\tcc\tpython\tarxiv_math\taverage\nA\t0.5\t0.2\t0.3\t0.9\n", ":3: the average"},
        {"# src\nmodel\tcc\tpython\tarxiv_math\nA\t0.5\t0.2\t0.3\n", ":2: expected the header"},
        {"# src\nmodel\tcc\tpython\tarxiv_math\taverage\nA\t0.5\tx\t0.3\t0.3\n", "'x' is not a BPC"},
        {"# src\nmodel\tcc\tpython\tarxiv_math\taverage\nA 0.5 0.2 0.3 0.3\n", "1 tab-separated fields"},
        {"model\tcc\tpython\tarxiv_math\taverage\nA\t0.3\t0.3\t0.3\t0.3\n", "no '#' lines"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = t_tmp("bad.tsv");
        t_write_file(path, bad[i].text, strlen(bad[i].text));
        lmc_paper p;
        lmc_err err;
        CHECK(lmc_paper_load(path, &p, &err) == -1 && strstr(err.msg, bad[i].needle), "case %zu: %s", i, err.msg);
    }
}

int main(void) {
    RUN(test_shipped_table);
    RUN(test_damaged_tables);
    t_tmp_cleanup();
    return test_summary();
}
