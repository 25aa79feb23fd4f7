/* SPDX-License-Identifier: MIT */
/*
 * spawn: whole-process cost of a command, as a user sees it.
 *
 * Runs COMMAND RUNS times, one after the other: fork, exec, wait4.  The
 * wall time of each run is taken around fork..wait4 with CLOCK_MONOTONIC,
 * its peak RSS and CPU from wait4's rusage.  One line per run on stdout:
 *
 *   run N wall_ms W maxrss_kib R user_ms U sys_ms S status X
 *
 * The command's stdout and stderr go to /dev/null unless -v.  A run that
 * does not exit 0 (or is killed after -t seconds: status 142) is reported
 * and ends the series: spawn exits 1.
 * Used by bench/run.py for measurement 1 (invitectl generate, prosodyctl,
 * the bare Berkeley DB floor).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double
tv_ms(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e3 + (double)tv->tv_usec / 1e3;
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: spawn [-v] [-n RUNS] [-t TIMEOUT_S] -- COMMAND [ARG...]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	long runs = 10, timeout_s = 120;
	int verbose = 0, failed = 0, c;

	while ((c = getopt(argc, argv, "+vn:t:")) != -1) {
		switch (c) {
		case 'v':
			verbose = 1;
			break;
		case 'n':
			runs = strtol(optarg, NULL, 10);
			break;
		case 't':
			timeout_s = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || runs < 1 || runs > 100000 || timeout_s < 1)
		usage();

	for (long i = 1; i <= runs; i++) {
		struct rusage ru;
		int status = 0;
		double t0 = now_ms(), t1;
		pid_t pid = fork();

		if (pid < 0) {
			perror("spawn: fork");
			return 71;
		}
		if (pid == 0) {
			if (!verbose) {
				int fd = open("/dev/null", O_RDWR);

				if (fd >= 0) {
					dup2(fd, 1);
					dup2(fd, 2);
					close(fd);
				}
			}
			/* A bounded run: a hung command is killed. */
			alarm((unsigned)timeout_s);
			execvp(argv[optind], argv + optind);
			_exit(127);
		}
		memset(&ru, 0, sizeof(ru));
		while (wait4(pid, &status, 0, &ru) < 0) {
			if (errno != EINTR) {
				perror("spawn: wait4");
				return 71;
			}
		}
		t1 = now_ms();
		failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		printf("run %ld wall_ms %.3f maxrss_kib %ld user_ms %.3f sys_ms %.3f "
		       "status %d\n",
		       i, t1 - t0, ru.ru_maxrss, tv_ms(&ru.ru_utime),
		       tv_ms(&ru.ru_stime),
		       WIFEXITED(status) ? WEXITSTATUS(status)
		                         : 128 + WTERMSIG(status));
		fflush(stdout);
		if (failed)
			break;
	}
	return failed;
}
