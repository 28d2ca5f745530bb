# The targets people type. The real work is in CMake and scripts/.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DLOOM_WERROR=ON
endif

.PHONY: all build run test bench fuzz clean deps format

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Starts the server on the embedded default (SQLite under ./data) with the
# example graphs and crews loaded.
run: build
	LOOM_GRAPHS=$${LOOM_GRAPHS:-examples/graphs:examples/crews} $(BUILD)/loom serve

# Unit tests (plain and under ASan+UBSan), then the integration suites
# against throwaway PostgreSQL and Redis servers.
test:
	@scripts/deps.sh test
	@scripts/test.sh

bench: build
	@scripts/deps.sh bench
	@scripts/bench.sh

fuzz:
	@scripts/deps.sh test
	@cmake -S . -B $(BUILD)-fuzz -DCMAKE_C_COMPILER=clang -DLOOM_FUZZ=ON >/dev/null
	@cmake --build $(BUILD)-fuzz -j$(JOBS)
	@scripts/fuzz.sh $(BUILD)-fuzz $${FUZZ_SECONDS:-60}

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]')

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
