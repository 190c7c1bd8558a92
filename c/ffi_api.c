/* ffi_api.c: thin wrappers with flat buffers so specs can test the C core directly. */
#include "ffi_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbb_checksum.h"
#include "bbb_ids.h"
#include "config.h"
#include "gzip.h"
#include "lb.h"
#include "policy.h"
#include "policy_builtin.h"
#include "query.h"
#include "xml_dom.h"

static int b3s_ffi_copy(const struct buf *b, char *out, size_t cap)
{
	if (b->oom || b->len + 1 > cap)
		return -ENOSPC;
	memcpy(out, buf_str(b), b->len + 1);
	return 0;
}

int b3s_ffi_checksum(int alg, const char *call, const char *query, const char *secret, char *hex)
{
	if (alg < 0 || alg > 3)
		return -EINVAL;
	return bbb_checksum_compute((enum bbb_hash)alg, call, query, strlen(query), secret, hex);
}

int b3s_ffi_verify(const char *call, const char *raw, const char *secret)
{
	return bbb_checksum_verify(call, raw, strlen(raw), secret);
}

int b3s_ffi_ids_encode(const char *key, const char *meeting_id, char *out, size_t cap)
{
	struct buf b;
	int rc;

	buf_init(&b);
	rc = bbb_ids_encode(&b, key, meeting_id);
	if (rc == 0)
		rc = b3s_ffi_copy(&b, out, cap);
	buf_free(&b);
	return rc;
}

const char *b3s_ffi_ids_decode(const char *nsid, const char *key)
{
	return bbb_ids_decode(nsid, key);
}

int b3s_ffi_query_reencode(const char *raw, char *out, size_t cap)
{
	struct query q;
	struct buf b;
	int rc;

	query_init(&q);
	buf_init(&b);
	rc = query_parse(&q, raw, strlen(raw));
	if (rc == 0)
		rc = query_encode(&q, &b);
	if (rc == 0)
		rc = b3s_ffi_copy(&b, out, cap);
	buf_free(&b);
	query_free(&q);
	return rc;
}

int b3s_ffi_query_get(const char *raw, const char *key, char *out, size_t cap)
{
	struct query q;
	const char *v;
	int rc;

	query_init(&q);
	rc = query_parse(&q, raw, strlen(raw));
	if (rc == 0) {
		v = query_get(&q, key);
		if (!v)
			rc = -ENOENT;
		else if (strlen(v) + 1 > cap)
			rc = -ENOSPC;
		else
			strcpy(out, v);
	}
	query_free(&q);
	return rc;
}

int b3s_ffi_rewrite_ids(const char *xml, const char *key, char *out, size_t cap)
{
	struct xml_node *doc;
	struct buf b;
	char err[256];
	int rc;

	rc = xml_dom_parse(xml, strlen(xml), &doc, err, sizeof(err));
	if (rc < 0)
		return rc;
	buf_init(&b);
	bbb_ids_rewrite(doc, key);
	rc = xml_dom_write(&b, doc);
	if (rc == 0)
		rc = b3s_ffi_copy(&b, out, cap);
	buf_free(&b);
	xml_dom_free(doc);
	return rc;
}

int b3s_ffi_builtin_least_load(int n, const double *load_factor, const long *meetings,
			       const long *pending, const long *participants,
			       const char *const *tags, const int *excluded,
			       const char *required_tags)
{
	struct lb_backend v[64];
	struct lb_backend_list bl = { v, 0, 0, -1 };
	const char *ex[64];
	size_t nex = 0, idx;
	int i;

	if (n < 0 || n > 64)
		return -EINVAL;
	memset(v, 0, sizeof(v));
	for (i = 0; i < n; i++) {
		snprintf(v[i].id, sizeof(v[i].id), "b%02d", i);
		v[i].tags = (char *)tags[i];
		v[i].load_factor = load_factor[i];
		v[i].meetings = meetings[i];
		v[i].pending = pending[i];
		v[i].participants = participants[i];
		if (excluded[i])
			ex[nex++] = v[i].id;
	}
	bl.n = (size_t)n;
	if (policy_builtin_least_load(&bl, required_tags, ex, nex, &idx) < 0)
		return -ENOENT;
	return (int)idx;
}

static struct policy_engine *b3s_ffi_engine;

int b3s_ffi_policy_load(const char *lua_dir, const char *policy_dir, const char *policy,
			char *err, size_t errlen)
{
	static struct lb_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.lua_dir, sizeof(cfg.lua_dir), "%s", lua_dir);
	snprintf(cfg.policy_dir, sizeof(cfg.policy_dir), "%s", policy_dir);
	snprintf(cfg.default_policy, sizeof(cfg.default_policy), "%s", policy);
	cfg.policy_timeout_ms = 1000;
	cfg.policy_max_insns = 100000000;
	cfg.policy_max_memory = 64 << 20;
	policy_engine_free(b3s_ffi_engine);
	b3s_ffi_engine = NULL;
	policy_teardown();
	return policy_setup(&cfg, err, errlen);
}

int b3s_ffi_policy_select(int n, const char *const *ids, const char *const *hosts,
			  const char *const *tags, const double *nums, unsigned long gen,
			  char *reason, size_t reasonlen)
{
	struct policy_request pr = { .action = "create", .meeting_id = "ffi",
				     .frontend_key = "ffi", .settings_json = "{}", .attempt = 1 };
	struct query params = { 0 };
	struct lb_backend_list bl = { 0 };
	const double *x;
	char policy[64];
	size_t idx = 0;
	int i, rc;

	if (n < 0 || n > 100000)
		return -EINVAL;
	bl.v = calloc(n ? (size_t)n : 1, sizeof(*bl.v));
	if (!bl.v)
		return -ENOMEM;
	bl.n = (size_t)n;
	bl.gen = gen;
	for (i = 0; i < n; i++) {
		x = nums + 10 * i;
		snprintf(bl.v[i].id, sizeof(bl.v[i].id), "%s", ids[i]);
		bl.v[i].host = (char *)hosts[i];
		bl.v[i].tags = (char *)tags[i];
		bl.v[i].load_factor = x[0];
		bl.v[i].meetings = (long)x[1];
		bl.v[i].pending = (long)x[2];
		bl.v[i].participants = (long)x[3];
		bl.v[i].video = (long)x[4];
		bl.v[i].voice = (long)x[5];
		bl.v[i].listeners = (long)x[6];
		bl.v[i].report_age_ms = (long)x[7];
		bl.v[i].cpu = x[8];
		bl.v[i].mem = x[9];
	}
	pr.params = &params;
	b3s_ffi_engine = policy_engine_sync(b3s_ffi_engine);
	switch (policy_select(b3s_ffi_engine, &pr, &bl, &idx, reason, reasonlen, policy,
			      sizeof(policy))) {
	case POLICY_OK:
		rc = (int)idx;
		break;
	case POLICY_NONE:
		rc = -ENOENT;
		break;
	default:
		rc = -EIO;
	}
	free(bl.v);
	return rc;
}

int b3s_ffi_gzip_accepted(const char *accept_encoding)
{
	return gzip_accepted(accept_encoding);
}
