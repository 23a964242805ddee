# lmc — build, test, demo. `make` builds ./lmc; `make demo` and `make test` first install missing Debian
# packages (tools/install-deps.sh). See README.md.

CC       ?= cc
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
# -march=native: the build machine is the run machine. Hand-written SIMD is selected at run time (cpu.c), so
# PORTABLE=1 builds a binary for any x86-64 and still uses AVX-512 where the CPU has it.
ifeq ($(PORTABLE),1)
ARCHFLAGS ?= -march=x86-64-v2 -mtune=generic
else
ARCHFLAGS ?= -march=native
endif
OPT      ?= -O2
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(ARCHFLAGS) -fopenmp -Wall -Wextra -Wno-unused-parameter \
            -Iinclude -Isrc -Ikernels -Itools -I$(BLAS_INC) -MMD -MP
LDLIBS   += -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lmicrohttpd -lcjson -lpcre2-8 -lutf8proc -lz -llzma -lnettle -larchive -lgit2 -lm -fopenmp
BUILD    ?= build

# MPI (README "Several processes and hosts"): MPI=1 builds ./lmc with src/eval/mpi_shard.c and Open MPI, so that
# `mpirun -np R ./lmc eval ...` shares one evaluation; the default, MPI=auto, does so when mpicc is installed;
# MPI=0 never. The library and the tests never link MPI; an MPI ./lmc started without mpirun does not start it.
MPI      ?= auto
ifeq ($(MPI),auto)
override MPI := $(if $(shell command -v mpicc 2>/dev/null),1,0)
endif
ifeq ($(MPI),1)
MPI_CFLAGS := -DLMC_MPI $(shell mpicc --showme:compile)
MPI_LIBS   := $(shell mpicc --showme:link)
MPI_OBJ    := $(BUILD)/src/cli/main-mpi.o $(BUILD)/src/cli/eval-mpi.o $(BUILD)/src/eval/mpi_shard.o
else
MPI_OBJ    := $(BUILD)/src/cli/main.o $(BUILD)/src/cli/eval.o
endif

# The library (liblmc.a): every stage folder of src/ (src/README.md), the kernels and the converter; the
# command line (src/cli/) is linked into ./lmc only.
LIB_SRC  := $(wildcard src/*/*.c src/model/arch/*.c kernels/*.c tools/*.c)
LIB_SRC  := $(filter-out src/cli/% src/eval/mpi_shard.c,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(filter-out src/cli/main.c src/cli/eval.c,$(wildcard src/cli/*.c))
MAIN_OBJ := $(MPI_OBJ) $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC:= $(wildcard bench/*.c)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps demo test check-full check-browser bench clean asan fuzz docs
all: lmc

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# lmc compress: the encoder and the decoder must compute bit-identical frequencies, so the files on that path
# never let the compiler fuse a multiply and an add (-std=c11 already implies it; this states it).
$(BUILD)/src/compress/compress.o $(BUILD)/src/compress/rangecoder.o: CFLAGS += -ffp-contract=off

$(BUILD)/liblmc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# main.c (--version) and eval.c (the ranks) are the CLI files that know MPI: built with its flags as *-mpi.o.
$(BUILD)/src/cli/%-mpi.o: src/cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MPI_CFLAGS) -c $< -o $@

$(BUILD)/src/eval/mpi_shard.o: src/eval/mpi_shard.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MPI_CFLAGS) -c $< -o $@

lmc: $(MAIN_OBJ) $(BUILD)/liblmc.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(MPI_LIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/liblmc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/liblmc.a -o $@ $(LDLIBS)

# The I/O fault-injection shim that tests/cli_faults.sh preloads (LD_PRELOAD; docs/safety.md).
FAULT_SO := $(BUILD)/tests/fault.so
$(FAULT_SO): tests/fault/fault.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -shared -fPIC $< -o $@ -ldl

# The allocation-failure shim that tests/cli_oom.sh preloads (docs/testing.md "Allocation failures").
OOM_SO := $(BUILD)/tests/oom.so
$(OOM_SO): tests/fault/oom.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -shared -fPIC $< -o $@

# The fuzz targets with a plain main (tests/fuzz/replay.c) and the ordinary build: tests/cli_fuzz_replay.sh replays
# their seeds and kept crashing inputs (tests/fuzz/<target>/) in make test, without clang or libFuzzer.
REPLAY_BIN := $(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/tests/replay_%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz_common.h $(BUILD)/liblmc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz $< tests/fuzz/replay.c $(BUILD)/liblmc.a -o $@ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/liblmc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/liblmc.a -o $@ $(LDLIBS)

deps:
	@bash tools/install-deps.sh

# The main job on the embedded default: the demo model on the three demo corpora.
# Built quietly (-s: compiler warnings and errors still show): the table is what this command is for.
demo: deps
	@echo "building ./lmc ..." && $(MAKE) -s --no-print-directory lmc && echo "built ./lmc; evaluating (about 2 minutes on 2 cores)"
	./lmc eval --model demo-model --data demo-data/cc.jsonl --data demo-data/python.jsonl \
	    --data demo-data/arxiv_math.jsonl

test: deps
	@$(MAKE) --no-print-directory lmc $(TEST_BIN) $(BENCH_BIN) $(FAULT_SO) $(OOM_SO) $(REPLAY_BIN)
	@bash tests/run.sh

# Every reference case, including the full-corpus BPC fixtures that CI leaves out.
check-full: deps
	@$(MAKE) --no-print-directory lmc $(TEST_BIN)
	@LMC_FULL=1 bash tests/run.sh

# The report as a person sees it: headless Chromium (installed here, not by `make test`) renders an
# `lmc report` of real results to a PNG, which must not be blank (tools/check-browser.sh).
check-browser: deps
	@$(MAKE) --no-print-directory lmc
	@bash tools/check-browser.sh

bench: lmc $(BENCH_BIN)

# docs/cli.md, the command-line reference, is generated from the subcommands' option tables (src/cli/);
# tests/cli_help.sh fails when the committed file differs from what ./lmc prints.
docs: lmc
	./lmc help --markdown >docs/cli.md

clean:
	rm -rf $(BUILD) lmc

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

# ---- hardening: `make asan` and `make fuzz` (README "Hardening") ----------------------------------------
# make asan: lmc and every test built with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on) in
# $(ASAN_BUILD), then the whole suite (tests/run.sh) run against those binaries from a staging directory
# ($(ASAN_BUILD)/stage: links to the sources, with build/ → $(ASAN_BUILD) and lmc → the sanitized lmc).
ASAN_BUILD   ?= build-asan
ASAN_CFLAGS  ?= -O2 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_RUN_OPTIONS ?= detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
UBSAN_RUN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
LMC_SHARED   ?= ../shared
ASAN_TESTS   := $(TEST_SRC:tests/%.c=$(ASAN_BUILD)/tests/%)

# The sanitized CLI lives in its build directory, never at ./lmc.
$(BUILD)/lmc: $(MAIN_OBJ) $(BUILD)/liblmc.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(MPI_LIBS)

asan:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) OPT="$(ASAN_CFLAGS)" $(ASAN_BUILD)/lmc $(ASAN_TESTS)
	@rm -rf $(ASAN_BUILD)/stage && mkdir -p $(ASAN_BUILD)/stage/tests
	@for f in $(CURDIR)/*; do case "$${f##*/}" in build*|lmc|tests) ;; *) ln -s "$$f" $(ASAN_BUILD)/stage/ ;; esac; done
	@for f in $(CURDIR)/tests/*; do ln -s "$$f" $(ASAN_BUILD)/stage/tests/; done
	@ln -s $(CURDIR)/$(ASAN_BUILD) $(ASAN_BUILD)/stage/build && ln -s $(CURDIR)/$(ASAN_BUILD)/lmc $(ASAN_BUILD)/stage/lmc
	cd $(ASAN_BUILD)/stage && LMC_SHARED="$(abspath $(LMC_SHARED))" ASAN_OPTIONS="$(ASAN_RUN_OPTIONS)" \
	    UBSAN_OPTIONS="$(UBSAN_RUN_OPTIONS)" bash tests/run.sh

# make fuzz: libFuzzer targets (tests/fuzz/fuzz_*.c) built with clang, ASan and UBSan in $(FUZZ_BUILD), each run
# for FUZZ_SECONDS on its committed seeds (tests/fuzz/<target>/, read-only) plus a working corpus in
# $(FUZZ_BUILD)/corpus/<target>. A crash, leak or UB report stops with the reproducer in $(FUZZ_BUILD)/artifacts/.
# The library is built without OpenMP (serial, deterministic); FUZZ_FLAGS adds libFuzzer options (-jobs=2, ...).
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_FLAGS   ?=
FUZZ_TARGETS ?= safetensors config tokenizer jsonl checkpoint gguf serve warc tar arxivmeta results llama2c_tok lmcz llama2c
FUZZ_MAXLEN_safetensors := 16384
FUZZ_MAXLEN_config      := 4096
FUZZ_MAXLEN_tokenizer   := 16384
FUZZ_MAXLEN_jsonl       := 8192
FUZZ_MAXLEN_checkpoint  := 8192
FUZZ_MAXLEN_gguf        := 16384
FUZZ_MAXLEN_serve       := 8192
FUZZ_MAXLEN_results     := 16384
FUZZ_MAXLEN_lmcz        := 4096
FUZZ_MAXLEN_llama2c     := 16384
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer $(ARCHFLAGS) -Wall -Wno-unknown-pragmas \
                -Wno-unused-parameter -Iinclude -Isrc -Ikernels -Itools -I$(BLAS_INC) -MMD -MP \
                -fsanitize=address,undefined
# UB is reported recoverably and made fatal at run time (halt_on_error), so that a suppressions file can list
# known issues in other modules while they are being fixed; FUZZ_UBSAN_SUPP= runs without it.
FUZZ_UBSAN_SUPP ?= tests/fuzz/ubsan.supp
FUZZ_ENV     = OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 \
               UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1$(if $(FUZZ_UBSAN_SUPP),:suppressions=$(abspath $(FUZZ_UBSAN_SUPP)))
FUZZ_LDLIBS  := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lmicrohttpd -l:libgomp.so.1 -lcjson -lpcre2-8 -lutf8proc -lz -llzma -lnettle -larchive -lgit2 -lm
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libfuzzlmc.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_BUILD)/libfuzzlmc.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz $< $(FUZZ_BUILD)/libfuzzlmc.a -o $@ $(FUZZ_LDLIBS)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@if [ -n "$(FUZZ_UBSAN_SUPP)" ] && grep -q '^[^#]' $(FUZZ_UBSAN_SUPP); then \
	    echo "note: UBSan suppressions in effect ($(FUZZ_UBSAN_SUPP)):"; grep '^[^#]' $(FUZZ_UBSAN_SUPP); fi
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	    echo "== fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -max_len=$$(case $$t in safetensors) echo $(FUZZ_MAXLEN_safetensors);; config) echo $(FUZZ_MAXLEN_config);; \
	                   tokenizer) echo $(FUZZ_MAXLEN_tokenizer);; checkpoint) echo $(FUZZ_MAXLEN_checkpoint);; \
	                   gguf) echo $(FUZZ_MAXLEN_gguf);; serve) echo $(FUZZ_MAXLEN_serve);; results) echo $(FUZZ_MAXLEN_results);; \
	                   lmcz) echo $(FUZZ_MAXLEN_lmcz);; llama2c) echo $(FUZZ_MAXLEN_llama2c);; \
	                   *) echo $(FUZZ_MAXLEN_jsonl);; esac) \
	        -dict=tests/fuzz/$$t.dict -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- -print_final_stats=1 \
	        $(FUZZ_FLAGS) $(FUZZ_BUILD)/corpus/$$t tests/fuzz/$$t >$(FUZZ_BUILD)/fuzz_$$t.log 2>&1; rc=$$?; \
	    grep -E '^(Done|stat::number_of_executed_units|SUMMARY|INFO: seed corpus)|ERROR|invariant failed' \
	        $(FUZZ_BUILD)/fuzz_$$t.log; \
	    test $$rc -eq 0 || { echo "fuzz_$$t FAILED (log $(FUZZ_BUILD)/fuzz_$$t.log; reproducer in $(FUZZ_BUILD)/artifacts/)"; exit 1; }; \
	done

-include $(FUZZ_OBJ:.o=.d)
