/*
 * File contents for the static route, read off the service thread and kept
 * by identity, so that serving a file never waits on a disk.
 *
 * The route opens and checks the file on the loop (metadata only: realpath,
 * open, fstat) and asks here for its contents. A version of a file is named
 * by device, inode, size and modification time, so a rewritten file is a
 * different entry and a stale one is never served. A hit answers at once;
 * a miss queues a read for the reader thread, which preads the file and
 * hands it back through pw_server_wake; the wake hook answers the request
 * (unless it went away meanwhile) and keeps the contents for the next one.
 *
 * Invariants:
 *   1. The cache and the pending list belong to the service thread; the
 *      reader sees only jobs, through `lock`-guarded queues.
 *   2. Cached bytes stay within max_bytes (oldest entries go first); a file
 *      larger than a quarter of it is served but not kept.
 *   3. The reader wakes the server only while `srv` is set; the route's
 *      on_detach clears it (under `lock`) once the loop has ended, before
 *      the server can be freed. server_filecache_free joins the reader.
 *   4. A job's request is cleared (under `lock`) by server_filecache_forget
 *      when the client goes away, and the reader skips reading a job whose
 *      request is gone; the job itself lives until the wake hook (or free)
 *      takes it back.
 *   5. Reads in flight are bounded: at most MAX_JOBS jobs holding at most
 *      MAX_JOB_BYTES of file between them; past that a request is refused
 *      (the route answers 503), so clients that ask for large files and
 *      leave cannot make the server read and hold without limit. A request
 *      for a version already being read waits on that read.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/static-int.h"
#include "server/server-int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pennyworth/assert.h"
#include "pennyworth/log.h"

#define MAX_JOBS 64
#define MAX_JOB_BYTES ((size_t)64 * 1024 * 1024)

struct version {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct entry {
    struct entry *next;         /* newest first */
    struct version v;
    size_t len;
    char data[];
};

struct job {
    struct job *next;           /* queued / finished list, or a waiter list */
    struct job *rnext;          /* fc->reading */
    struct job *waiters;        /* requests for the same version, answered with it */
    struct server_filecache *fc;
    struct pw_server_req *req;  /* {fc->lock} NULL once the client went away */
    int fd;
    struct version v;
    struct stat st;
    server_file_done done;
    void *ud;
    char *body;                 /* the reader's result, or NULL */
    size_t len;
    int error;                  /* errno of a failed read */
};

struct server_filecache {
    pthread_mutex_t lock;
    pthread_cond_t more;
    struct pw_server *srv;      /* {lock} NULL once detached (invariant 3) */
    struct job *queued, *finished; /* {lock} */
    bool quit;                  /* {lock} */
    bool started;
    pthread_t reader;
    struct entry *entries;      /* service thread */
    size_t bytes, max_bytes;
    struct job *reading;        /* service thread: jobs handed to the reader */
    size_t njobs, job_bytes;    /* service thread: invariant 5 */
};

static void version_of(const struct stat *st, struct version *v)
{
    memset(v, 0, sizeof *v);
    v->dev = st->st_dev;
    v->ino = st->st_ino;
    v->size = st->st_size;
    v->mtime = st->st_mtim;
}

static bool same(const struct version *a, const struct version *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The reader ------------------------------------------------------------------------ */

static void read_job(struct job *j)
{
    size_t size = (size_t)j->v.size, off = 0;
    j->body = malloc(size ? size : 1);
    if (!j->body) {
        j->error = ENOMEM;
        return;
    }
    while (off < size) {
        ssize_t k = pread(j->fd, j->body + off, size - off, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            j->error = errno;
            free(j->body);
            j->body = NULL;
            return;
        }
        if (k == 0)
            break; /* it shrank meanwhile: serve what there is */
        off += (size_t)k;
    }
    j->len = off;
}

static void *reader(void *arg)
{
    struct server_filecache *fc = arg;
    pthread_mutex_lock(&fc->lock);
    for (;;) {
        while (!fc->queued && !fc->quit)
            pthread_cond_wait(&fc->more, &fc->lock);
        if (!fc->queued)
            break;
        struct job *j = fc->queued;
        fc->queued = j->next;
        bool wanted = j->req != NULL;
        for (const struct job *w = j->waiters; w && !wanted; w = w->next)
            wanted = w->req != NULL;
        pthread_mutex_unlock(&fc->lock);
        if (wanted)
            read_job(j);
        else
            j->error = ECANCELED;
        close(j->fd);
        j->fd = -1;
        pthread_mutex_lock(&fc->lock);
        j->next = fc->finished;
        fc->finished = j;
        if (fc->srv)
            pw_server_wake(fc->srv);
    }
    pthread_mutex_unlock(&fc->lock);
    return NULL;
}

/* The cache (service thread) ----------------------------------------------------------- */

static void evict_to(struct server_filecache *fc, size_t room)
{
    while (fc->entries && fc->bytes + room > fc->max_bytes) {
        struct entry **pp = &fc->entries;
        while ((*pp)->next)
            pp = &(*pp)->next;
        fc->bytes -= (*pp)->len;
        free(*pp);
        *pp = NULL;
    }
}

static void keep(struct server_filecache *fc, const struct version *v, const char *data,
                 size_t len)
{
    if (len > fc->max_bytes / 4)
        return;
    for (struct entry **pp = &fc->entries; *pp; pp = &(*pp)->next) {
        if ((*pp)->v.dev == v->dev && (*pp)->v.ino == v->ino) {
            struct entry *old = *pp; /* an older version of the same file */
            *pp = old->next;
            fc->bytes -= old->len;
            free(old);
            break;
        }
    }
    evict_to(fc, len);
    struct entry *e = malloc(sizeof *e + (len ? len : 1));
    if (!e)
        return;
    e->v = *v;
    e->len = len;
    memcpy(e->data, data, len);
    e->next = fc->entries;
    fc->entries = e;
    fc->bytes += len;
    PW_ASSERT(fc->bytes <= fc->max_bytes);
}

static void answer(struct job *j)
{
    if (j->req) {
        pw_server_req_set_data(j->req, NULL);
        j->done(j->req, &j->st, j->body, j->len, j->error, j->ud);
    }
}

/* The wake hook: answers what the reader finished. */
static void deliver(void *ud)
{
    struct server_filecache *fc = ud;
    pthread_mutex_lock(&fc->lock);
    struct job *j = fc->finished;
    fc->finished = NULL;
    pthread_mutex_unlock(&fc->lock);
    while (j) {
        struct job *next = j->next;
        for (struct job **pp = &fc->reading; *pp; pp = &(*pp)->rnext) {
            if (*pp == j) {
                *pp = j->rnext;
                break;
            }
        }
        fc->njobs--;
        fc->job_bytes -= (size_t)j->v.size;
        if (j->body)
            keep(fc, &j->v, j->body, j->len);
        answer(j);
        while (j->waiters) {
            struct job *w = j->waiters;
            j->waiters = w->next;
            w->body = j->body;
            w->len = j->len;
            w->error = j->error;
            answer(w);
            free(w);
        }
        free(j->body);
        free(j);
        j = next;
    }
}

/* API ------------------------------------------------------------------------------------ */

struct server_filecache *server_filecache_new(struct pw_server *srv, size_t max_bytes)
{
    struct server_filecache *fc = calloc(1, sizeof *fc);
    if (!fc)
        return NULL;
    pthread_mutex_init(&fc->lock, NULL);
    pthread_cond_init(&fc->more, NULL);
    fc->srv = srv;
    fc->max_bytes = max_bytes;
    if (pw_server_on_wake(srv, deliver, fc, NULL) != PW_OK) {
        server_filecache_free(fc);
        return NULL;
    }
    return fc;
}

int server_filecache_get(struct server_filecache *fc, struct pw_server_req *r, int fd,
                         const struct stat *st, server_file_done done, void *ud)
{
    struct version v;
    version_of(st, &v);
    for (struct entry *e = fc->entries; e; e = e->next) {
        if (same(&e->v, &v)) {
            close(fd);
            done(r, st, e->data, e->len, 0, ud);
            return 0;
        }
    }
    struct job *reading = fc->reading;
    while (reading && !same(&reading->v, &v))
        reading = reading->rnext;
    if (!reading && (fc->njobs >= MAX_JOBS || fc->job_bytes + (size_t)v.size > MAX_JOB_BYTES))
        return -1; /* invariant 5 */
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->fc = fc;
    j->req = r;
    j->v = v;
    j->st = *st;
    j->done = done;
    j->ud = ud;
    j->fd = -1;
    if (reading) {
        close(fd);
        pw_server_req_set_data(r, j);
        pthread_mutex_lock(&fc->lock);
        j->next = reading->waiters;
        reading->waiters = j;
        pthread_mutex_unlock(&fc->lock);
        return 0;
    }
    if (!fc->started) {
        if (pthread_create(&fc->reader, NULL, reader, fc) != 0) {
            free(j);
            return -1;
        }
        fc->started = true;
    }
    j->fd = fd;
    j->rnext = fc->reading;
    fc->reading = j;
    fc->njobs++;
    fc->job_bytes += (size_t)v.size;
    pw_server_req_set_data(r, j);
    pthread_mutex_lock(&fc->lock);
    j->next = fc->queued;
    fc->queued = j;
    pthread_cond_signal(&fc->more);
    pthread_mutex_unlock(&fc->lock);
    return 0;
}

void server_filecache_forget(struct pw_server_req *r)
{
    struct job *j = pw_server_req_data(r);
    if (!j)
        return;
    pthread_mutex_lock(&j->fc->lock);
    j->req = NULL;
    pthread_mutex_unlock(&j->fc->lock);
}

void server_filecache_detach(struct server_filecache *fc)
{
    pthread_mutex_lock(&fc->lock);
    fc->srv = NULL;
    pthread_mutex_unlock(&fc->lock);
}

void server_filecache_free(struct server_filecache *fc)
{
    if (!fc)
        return;
    pthread_mutex_lock(&fc->lock);
    fc->quit = true;
    fc->srv = NULL;
    pthread_cond_signal(&fc->more);
    pthread_mutex_unlock(&fc->lock);
    if (fc->started)
        pthread_join(fc->reader, NULL);
    for (struct job *j = fc->reading, *next; j; j = next) {
        next = j->rnext; /* every job is here until delivered, wherever it is queued */
        for (struct job *w = j->waiters, *wn; w; w = wn) {
            wn = w->next;
            free(w);
        }
        if (j->fd >= 0)
            close(j->fd);
        free(j->body);
        free(j);
    }
    while (fc->entries) {
        struct entry *e = fc->entries;
        fc->entries = e->next;
        free(e);
    }
    pthread_cond_destroy(&fc->more);
    pthread_mutex_destroy(&fc->lock);
    free(fc);
}
