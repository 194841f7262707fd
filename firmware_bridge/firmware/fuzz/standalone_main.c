/*
 * Driver for compilers without libFuzzer (gcc): replays files given on the command line,
 * then runs random and mutated inputs for N iterations. Used by the fuzz smoke test.
 *   fuzz_parser_standalone [-n ITER] [FILE...]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	static uint8_t seeds[64][512];
	static size_t seed_len[64];
	int nseeds = 0;
	long iters = 100000;

	for (int i = 1; i < argc; i++) {
		FILE *f;
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			iters = atol(argv[++i]);
			continue;
		}
		f = fopen(argv[i], "rb");
		if (f == NULL)
			continue;
		if (nseeds < 64) {
			seed_len[nseeds] = fread(seeds[nseeds], 1, sizeof(seeds[0]), f);
			LLVMFuzzerTestOneInput(seeds[nseeds], seed_len[nseeds]);
			nseeds++;
		}
		fclose(f);
	}
	for (long it = 0; it < iters; it++) {
		uint8_t buf[512];
		size_t len;
		if (nseeds > 0 && (next() & 1)) {
			int s = (int)(next() % (uint64_t)nseeds);
			len = seed_len[s];
			memcpy(buf, seeds[s], len);
			for (int k = (int)(next() % 4); k >= 0 && len > 0; k--)
				buf[next() % len] ^= (uint8_t)next();
		} else {
			len = (size_t)(next() % sizeof(buf));
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)next();
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("fuzz standalone: %ld random/mutated inputs, %d seeds, no crash\n", iters, nseeds);
	return 0;
}
