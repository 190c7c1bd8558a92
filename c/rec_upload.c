/* rec_upload.c: see rec_upload.h. Writes to the spool happen on the HTTP thread: it is local
 * disk (B3SCALE_RECORDINGS_DIR/.spool) and a write is bounded by the piece MHD hands over;
 * everything that reads the whole upload or touches the published trees runs on the
 * recordings thread. */
#include "rec_upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "admin_api.h"
#include "admin_auth.h"
#include "log.h"
#include "rec_import.h"
#include "rec_store.h"
#include "stats.h"

#define REC_UPLOAD_PATH "/api/v1/recordings/import"

struct rec_upload {
	struct rec_job job; /* first: the park's pointer is the upload's */
	int fd;
	int error;          /* errno of the first failed write */
	unsigned long long bytes;
	char client[64];
};

static long rec_upload_active; /* begun and not released: bounded by B3SCALE_RECORDING_UPLOADS */

int rec_upload_route(const char *method, const char *path)
{
	return strcmp(method, "POST") == 0 && strcmp(path, REC_UPLOAD_PATH) == 0;
}

static int rec_upload_refuse(struct http_answer *a, int status, const char *error,
			     const char *message)
{
	admin_api_json_error(a, status, error, message);
	stats_admin_request("POST", status);
	log_info("access", "api=admin method=POST path=%s status=%d reason=\"%s\"",
		 REC_UPLOAD_PATH, status, message);
	return -1;
}

static int rec_upload_type_ok(const char *ct)
{
	static const char *const ok[] = { "application/x-tar", "application/tar",
					  "application/gzip", "application/x-gzip",
					  "application/octet-stream", NULL };
	size_t i, n;

	if (!ct)
		return 0;
	n = strcspn(ct, "; \t");
	for (i = 0; ok[i]; i++)
		if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0)
			return 1;
	return 0;
}

/* Room for the spool copy and the extracted trees, when the size is declared. */
static int rec_upload_room(const char *root, struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	struct statvfs fs;
	unsigned long long want;

	if (!v || statvfs(root, &fs) < 0)
		return 1;
	want = strtoull(v, NULL, 10);
	return (unsigned long long)fs.f_bavail * fs.f_frsize / 2 >= want;
}

/* Token: an admin, or a node (its backend is checked on the recordings thread). */
static int rec_upload_auth(const struct lb_config *cfg, struct MHD_Connection *c,
			   struct rec_upload *u, struct http_answer *a)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *fe = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "frontend");
	struct admin_claims cl;
	int rc;

	if (!cfg->api_jwt_secret[0])
		return rec_upload_refuse(a, 404, "not_found",
					 "admin API disabled: B3SCALE_API_JWT_SECRET is not set");
	rc = admin_auth_verify(auth, cfg->api_jwt_secret, &cl);
	if (rc < 0)
		return rec_upload_refuse(a, 401, "unauthorized",
					 rc == ADMIN_AUTH_EXPIRED     ? "token expired"
					 : rc == ADMIN_AUTH_MALFORMED ? "missing or malformed token"
								      : "invalid token");
	u->job.admin = admin_auth_has_scope(&cl, "b3scale:admin");
	if (!u->job.admin && !admin_auth_has_scope(&cl, "b3scale:node"))
		return rec_upload_refuse(a, 403, "forbidden",
					 "an import needs scope b3scale:node or b3scale:admin");
	if (fe && !u->job.admin)
		return rec_upload_refuse(a, 403, "forbidden", "only an admin may name the frontend");
	if (fe && (strlen(fe) == 0 || strlen(fe) > 64 ||
		   strspn(fe, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
			   strlen(fe)))
		return rec_upload_refuse(a, 400, "invalid", "frontend must be a frontend key");
	snprintf(u->job.frontend, sizeof(u->job.frontend), "%s", fe ? fe : "");
	snprintf(u->job.sub, sizeof(u->job.sub), "%s", cl.sub);
	return 0;
}

static void rec_upload_start(struct http_park *p)
{
	rec_import_submit((struct rec_job *)p);
}

static void rec_upload_resume(struct http_park *p, struct http_answer *a)
{
	struct rec_upload *u = (struct rec_upload *)p;

	a->status = u->job.status;
	a->content_type = "application/json";
	buf_reset(&a->body);
	buf_append(&a->body, buf_str(&u->job.body), u->job.body.len);
	stats_admin_request("POST", a->status);
	log_info("access", "api=admin method=POST path=%s status=%d bytes=%llu client=%s",
		 REC_UPLOAD_PATH, a->status, u->bytes, u->client);
}

static void rec_upload_release(struct http_park *p)
{
	rec_upload_free((struct rec_upload *)p);
}

int rec_upload_begin(const struct lb_config *cfg, struct MHD_Connection *c,
		     struct rec_upload **out, struct http_answer *a)
{
	struct rec_upload *u;
	int rc;

	*out = NULL;
	if (!rec_import_enabled())
		return rec_upload_refuse(a, 404, "not_found",
					 "no recordings storage: B3SCALE_RECORDINGS_DIR is not set");
	u = calloc(1, sizeof(*u));
	if (!u)
		return rec_upload_refuse(a, 500, "internal_error", "out of memory");
	u->fd = -1;
	if (rec_upload_auth(cfg, c, u, a) < 0)
		goto fail;
	if (!rec_upload_type_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							    "Content-Type"))) {
		rec_upload_refuse(a, 415, "unsupported_media_type",
				  "send application/x-tar or application/gzip");
		goto fail;
	}
	if (__atomic_add_fetch(&rec_upload_active, 1, __ATOMIC_RELAXED) > cfg->recording_uploads) {
		__atomic_sub_fetch(&rec_upload_active, 1, __ATOMIC_RELAXED);
		rec_upload_refuse(a, 503, "busy", "too many recording imports at once; retry later");
		goto fail;
	}
	u->job.park.start = rec_upload_start;
	u->job.park.resume = rec_upload_resume;
	u->job.park.release = rec_upload_release;
	if (!rec_upload_room(cfg->recordings_dir, c)) {
		rec_upload_refuse(a, 507, "insufficient_storage",
				  "not enough free space in the recordings storage for this upload");
		rec_upload_free(u);
		return -1;
	}
	rc = rec_store_unique(u->job.spool, sizeof(u->job.spool), cfg->recordings_dir,
			      REC_STORE_SPOOL);
	if (rc == 0) {
		u->fd = open(u->job.spool, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		rc = u->fd < 0 ? -errno : 0;
	}
	if (rc < 0) {
		u->job.spool[0] = '\0';
		log_error("recordings", "event=spool_failed error=\"%s\"", strerror(-rc));
		rec_upload_refuse(a, 500, "internal_error", "cannot open a spool file");
		rec_upload_free(u);
		return -1;
	}
	*out = u;
	return 0;
fail:
	free(u);
	return -1;
}

void rec_upload_append(struct rec_upload *u, const char *data, size_t n)
{
	ssize_t w;

	u->bytes += n;
	while (!u->error && n > 0) {
		w = write(u->fd, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			u->error = w < 0 ? errno : ENOSPC;
			break;
		}
		data += w;
		n -= (size_t)w;
	}
}

void rec_upload_finish(struct rec_upload **up, const char *client, struct http_answer *a)
{
	struct rec_upload *u = *up;

	snprintf(u->client, sizeof(u->client), "%s", client);
	if (close(u->fd) < 0 && !u->error)
		u->error = errno;
	u->fd = -1;
	if (u->error) {
		log_error("recordings", "event=spool_failed bytes=%llu error=\"%s\"", u->bytes,
			  strerror(u->error));
		if (u->error == ENOSPC || u->error == EDQUOT || u->error == EFBIG)
			rec_upload_refuse(a, 507, "insufficient_storage",
					  "the recordings storage is full; nothing was imported");
		else
			rec_upload_refuse(a, 500, "internal_error", "cannot write the spool file");
		return; /* freed with the request */
	}
	a->park = &u->job.park;
	*up = NULL;
}

void rec_upload_free(struct rec_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->job.spool[0])
		unlink(u->job.spool);
	if (u->job.park.release)
		__atomic_sub_fetch(&rec_upload_active, 1, __ATOMIC_RELAXED);
	buf_free(&u->job.body);
	free(u);
}
