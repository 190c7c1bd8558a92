/* proxy.h: HTTP calls to backends with libcurl (one handle per worker, keep-alive). */
#ifndef B3S_PROXY_H
#define B3S_PROXY_H

#include <stddef.h>

#include <curl/curl.h>

#include "buf.h"

struct proxy_result {
	long status;
	struct buf body;
	char content_type[128];
};

struct proxy_opts {
	long timeout_ms;
	long connect_timeout_ms;
};

void proxy_result_init(struct proxy_result *r);
void proxy_result_free(struct proxy_result *r);
/* 0 when the backend answered (any HTTP status); -ECONNREFUSED, -ETIMEDOUT or -EIO when it
 * could not be reached, with the reason in err (URL never included: it carries a checksum). */
int proxy_request(CURL *curl, const struct proxy_opts *o, const char *method, const char *url,
		  const char *body, size_t body_len, const char *content_type,
		  struct proxy_result *res, char *err, size_t errlen);

/* GETs n URLs at once (curl multi, fresh handles): one slow backend costs its own timeout,
 * not the sum. rcs[i] and errs[i] as proxy_request's return and err. */
#define PROXY_ERRLEN 256
int proxy_get_many(const struct proxy_opts *o, const char *const *urls, size_t n,
		   struct proxy_result *res, int *rcs, char (*errs)[PROXY_ERRLEN]);

#endif
