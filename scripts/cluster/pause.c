/* The pod sandbox's process: sleeps until SIGINT or SIGTERM, reaping any child reparented to it.
 * Same behaviour as Kubernetes' own (kubernetes/kubernetes : build/pause/linux/pause.c), written small:
 * built with `gcc -static -Os` into hermes.local/pause by scripts/cluster/images.py. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    return 0; /* `pause -v` and the like: nothing to say */
  }
  struct sigaction term = {.sa_handler = stop};
  struct sigaction child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  sigaction(SIGINT, &term, NULL);
  sigaction(SIGTERM, &term, NULL);
  sigaction(SIGCHLD, &child, NULL);
  for (;;) {
    pause();
  }
}
