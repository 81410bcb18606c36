/* The lock of a store's daemon (STORE/osd.lock, daemon.c): waiting out a
 * predecessor that is still exiting. */
#include "osd/internal.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* True while process @pid is gone or exiting: its main thread is a zombie
 * (or dead) but other threads may still hold its files, e.g. one finishing
 * an fdatasync after a SIGKILL. */
static bool pid_exiting(const char *pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *end = strrchr(buf, ')'); /* the name may hold spaces */
    return end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X');
}

int osd__lock_store(int fd, char pid[32])
{
    for (int waited_ms = 0;; waited_ms += 20) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        ssize_t n = pread(fd, pid, 31, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        bool numeric = pid[0] && strspn(pid, "0123456789") == strlen(pid);
        if (!numeric || !pid_exiting(pid) || waited_ms >= 10000)
            return -EBUSY;
        if (waited_ms == 0)
            cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD,
                      "waiting for the exiting cairn-osd (pid %s) to release the store", pid);
        usleep(20000);
    }
}
