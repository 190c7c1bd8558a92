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

/* The pieces proxy_request is made of, for node_loop.c's multi handle: the options every
 * call shares, a POST body (*hdrs to free after the transfer), the result and the mapping
 * of curl's codes to negative errno. */
int proxy_easy_setup(CURL *curl, const struct proxy_opts *o, const char *url,
		     struct proxy_result *res);
int proxy_easy_body(CURL *curl, const char *method, const char *body, size_t body_len,
		    const char *content_type, struct curl_slist **hdrs);
void proxy_easy_finish(CURL *curl, struct proxy_result *res);
int proxy_errno(CURLcode cc);

#endif
