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
LDLIBS   += -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lcjson -lpcre2-8 -lutf8proc -lz -lm -fopenmp
BUILD    ?= build

LIB_SRC  := $(wildcard src/*.c src/tokenizer/*.c src/arch/*.c kernels/*.c tools/*.c)
LIB_SRC  := $(filter-out src/main.c,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC:= $(wildcard bench/*.c)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps demo test check-full bench clean asan fuzz
all: lmc

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/liblmc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

lmc: $(BUILD)/src/main.o $(BUILD)/liblmc.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/liblmc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/liblmc.a -o $@ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/liblmc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/liblmc.a -o $@ $(LDLIBS)

deps:
	@bash tools/install-deps.sh

# The main job on the embedded default: the demo model on the three demo corpora.
demo: deps
	@$(MAKE) --no-print-directory lmc
	./lmc eval --model demo-model --data demo-data/cc.jsonl --data demo-data/python.jsonl \
	    --data demo-data/arxiv_math.jsonl

test: deps
	@$(MAKE) --no-print-directory lmc $(TEST_BIN) $(BENCH_BIN)
	@bash tests/run.sh

# Every reference case, including the full-corpus BPC fixtures that CI leaves out.
check-full: deps
	@$(MAKE) --no-print-directory lmc $(TEST_BIN)
	@LMC_FULL=1 bash tests/run.sh

bench: lmc $(BENCH_BIN)

clean:
	rm -rf $(BUILD) lmc

-include $(LIB_OBJ:.o=.d) $(BUILD)/src/main.d
