/* rec_cache.c: see rec_cache.h. A direct-mapped table under one mutex: a hit is a hash, a
 * compare and a copy of a few tens of kB, and a collision only costs a database read. */
#include "rec_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define REC_CACHE_SLOTS 256
#define REC_CACHE_MAX_BODY (1u << 20) /* a page of 100 recordings is well under this */

struct rec_cache_entry {
	char *key;  /* frontend id, '\n', the request's parameters */
	char *body;
	size_t len;
	unsigned long gen;
	long long at_ms;
};

static struct rec_cache_entry rec_cache_slots[REC_CACHE_SLOTS];
static pthread_mutex_t rec_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong rec_cache_generation = 1;
static atomic_int rec_cache_live;

unsigned long rec_cache_gen(void)
{
	return atomic_load(&rec_cache_generation);
}

void rec_cache_invalidate(void)
{
	atomic_fetch_add(&rec_cache_generation, 1);
}

void rec_cache_set_live(int live)
{
	rec_cache_invalidate(); /* what changed while nobody listened is unknown */
	atomic_store(&rec_cache_live, live);
}

static unsigned rec_cache_slot(const char *frontend_id, const char *key)
{
	return buf_hash(buf_hash(BUF_HASH_SEED, frontend_id), key) % REC_CACHE_SLOTS;
}

static int rec_cache_same(const struct rec_cache_entry *e, const char *frontend_id,
			  const char *key)
{
	size_t n = strlen(frontend_id);

	return e->key && strncmp(e->key, frontend_id, n) == 0 && e->key[n] == '\n' &&
	       strcmp(e->key + n + 1, key) == 0;
}

int rec_cache_get(const struct lb_config *cfg, const char *frontend_id, const char *key,
		  struct buf *out)
{
	struct rec_cache_entry *e = &rec_cache_slots[rec_cache_slot(frontend_id, key)];
	int hit = 0;

	if (cfg->recordings_cache_ms <= 0 || !atomic_load(&rec_cache_live))
		return 0;
	pthread_mutex_lock(&rec_cache_lock);
	if (rec_cache_same(e, frontend_id, key) && e->gen == atomic_load(&rec_cache_generation) &&
	    clock_mono_ms() - e->at_ms <= cfg->recordings_cache_ms) {
		buf_append(out, e->body, e->len);
		hit = !out->oom;
	}
	pthread_mutex_unlock(&rec_cache_lock);
	return hit;
}

void rec_cache_put(const struct lb_config *cfg, unsigned long gen, const char *frontend_id,
		   const char *key, const char *body, size_t len)
{
	struct rec_cache_entry *e = &rec_cache_slots[rec_cache_slot(frontend_id, key)];
	struct buf k = { 0 };
	char *copy;

	if (cfg->recordings_cache_ms <= 0 || !atomic_load(&rec_cache_live) ||
	    gen != atomic_load(&rec_cache_generation) || len > REC_CACHE_MAX_BODY)
		return;
	buf_printf(&k, "%s\n%s", frontend_id, key);
	copy = malloc(len ? len : 1);
	if (k.oom || !copy) {
		buf_free(&k);
		free(copy);
		return;
	}
	memcpy(copy, body, len);
	pthread_mutex_lock(&rec_cache_lock);
	free(e->key);
	free(e->body);
	e->key = buf_take(&k, NULL);
	e->body = copy;
	e->len = len;
	e->gen = gen;
	e->at_ms = clock_mono_ms();
	pthread_mutex_unlock(&rec_cache_lock);
}
