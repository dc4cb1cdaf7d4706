/*
 * replay.c: a plain main that feeds a fuzz target (linked beside it) every
 * regular file of the directories or files named on the command line, or,
 * with no arguments, of $FUZZ_CORPUS/<fuzz_target_name>/. This is how
 * `make check` covers the fuzz targets with gcc alone: the corpus, including
 * every input that once crashed, is replayed under the normal (and, with
 * --enable-sanitizers, ASan/UBSan) build.
 *
 * Prints "replay <name>: N inputs" and exits 0; exits 1 when a file cannot
 * be read, when the corpus directory is missing, or when nothing was
 * replayed (a test that replays nothing must fail).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern const char *fuzz_target_name;
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds one file to the target; returns 0, or -1 if it cannot be read. */
static int
replay_file(const char *path, off_t size)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (fp == NULL) {
		perror(path);
		return -1;
	}
	buf = malloc(size > 0 ? (size_t)size : 1);
	if (buf == NULL) {
		fclose(fp);
		fprintf(stderr, "%s: out of memory\n", path);
		return -1;
	}
	n = fread(buf, 1, (size_t)size, fp);
	if (ferror(fp) || n != (size_t)size) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

/* Replays a file or every regular file of a directory; adds to *count. */
static int
replay_path(const char *path, long *count)
{
	struct stat st;
	struct dirent *de;
	DIR *dir;
	char *sub;
	int ret = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		if (replay_file(path, st.st_size) != 0)
			return -1;
		(*count)++;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	if ((dir = opendir(path)) == NULL) {
		perror(path);
		return -1;
	}
	while (ret == 0 && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		sub = malloc(strlen(path) + strlen(de->d_name) + 2);
		if (sub == NULL) {
			ret = -1;
			break;
		}
		sprintf(sub, "%s/%s", path, de->d_name);
		if (stat(sub, &st) != 0) {
			perror(sub);
			ret = -1;
		} else if (S_ISREG(st.st_mode)) {
			if (replay_file(sub, st.st_size) != 0)
				ret = -1;
			else
				(*count)++;
		}
		free(sub);
	}
	closedir(dir);
	return ret;
}

int
main(int argc, char **argv)
{
	const char *base;
	char *dir;
	long count = 0;
	int i;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i], &count) != 0)
				return 1;
	} else {
		base = getenv("FUZZ_CORPUS");
		if (base == NULL || *base == '\0') {
			fprintf(stderr, "replay %s: FUZZ_CORPUS is not set and no "
			    "paths were given\n", fuzz_target_name);
			return 1;
		}
		dir = malloc(strlen(base) + strlen(fuzz_target_name) + 2);
		if (dir == NULL)
			return 1;
		sprintf(dir, "%s/%s", base, fuzz_target_name);
		if (replay_path(dir, &count) != 0) {
			free(dir);
			return 1;
		}
		free(dir);
	}
	printf("replay %s: %ld inputs\n", fuzz_target_name, count);
	if (count == 0) {
		fprintf(stderr, "replay %s: no inputs replayed\n", fuzz_target_name);
		return 1;
	}
	return 0;
}
