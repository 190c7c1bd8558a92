/* bbb_tracks.c: see bbb_tracks.h. Another frontend's recordID gets the answer an unknown one
 * gets, and nothing is stored: the row lookup is always by frontend and recordID. */
#include "bbb_tracks.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bbb_reply.h"
#include "db_tracks.h"
#include "log.h"
#include "rec_import.h"
#include "rec_vtt.h"
#include "worker.h"

#define BBB_TRACKS_MAX_ID 256
#define BBB_TRACKS_MAX_LABEL 256

/* A recordID as imports take them ([A-Za-z0-9._-], rec_archive): anything else names no
 * recording, and only such an ID is ever echoed in an answer. */
static int bbb_tracks_id_ok(const char *rid)
{
	size_t n = strlen(rid);

	return n > 0 && n <= BBB_TRACKS_MAX_ID &&
	       strspn(rid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static void bbb_tracks_none(struct bbb_ctx *c, const char *rid)
{
	char msg[BBB_TRACKS_MAX_ID + 32];

	snprintf(msg, sizeof(msg), "No recordings for %s", bbb_tracks_id_ok(rid) ? rid : "it");
	bbb_reply_json(c, "FAILED", "noRecordings", msg, NULL);
}

/* A BCP 47 shaped tag (a 2-8 letter language, up to six 1-8 character subtags; "pt_BR" is
 * taken as "pt-BR") into out; 0 when lang is not one. It names a file: nothing else gets
 * through. The same rule is the CHECK of sql/0015. */
static int bbb_tracks_lang(const char *lang, char *out, size_t outcap)
{
	size_t i, run = 0, subtags = 0;

	if (strlen(lang) >= outcap)
		return 0;
	for (i = 0; lang[i]; i++) {
		char ch = lang[i] == '_' ? '-' : lang[i];

		if (ch == '-') {
			if ((subtags == 0 && run < 2) || run == 0 || ++subtags > 6)
				return 0;
			run = 0;
		} else if (!isalpha((unsigned char)ch) &&
			   !(subtags > 0 && isdigit((unsigned char)ch))) {
			return 0;
		} else if (++run > 8) {
			return 0;
		}
		out[i] = ch;
	}
	out[i] = '\0';
	return subtags == 0 ? run >= 2 : run > 0;
}

/* The WebVTT URL of a track: the playback host, else the node's scheme and host, and the
 * path BBB's presentation player reads. */
static void bbb_tracks_href(struct buf *out, const char *base, const char *node_url,
			    const char *rid, const char *lang)
{
	const char *host = strstr(node_url, "://");

	if (*base)
		buf_puts(out, base);
	else if (host)
		buf_append(out, node_url, (size_t)(host + 3 - node_url) + strcspn(host + 3, "/?#"));
	buf_printf(out, "/presentation/%s/caption_%s.vtt", rid, lang);
}

struct bbb_tracks_walk {
	struct bbb_ctx *c;
	const char *rid;
	struct buf *out, href;
};

static int bbb_tracks_one(const struct db_track *t, void *ud)
{
	struct bbb_tracks_walk *wk = ud;
	struct buf *x = wk->out;

	buf_reset(&wk->href);
	bbb_tracks_href(&wk->href, wk->c->w->cfg->recordings_playback_url, t->node_url, wk->rid,
			t->lang);
	buf_puts(x, x->len ? ",{\"href\":" : "{\"href\":");
	buf_json_str(x, buf_str(&wk->href));
	buf_puts(x, ",\"kind\":");
	buf_json_str(x, t->kind);
	buf_puts(x, ",\"label\":");
	buf_json_str(x, t->label);
	buf_puts(x, ",\"lang\":");
	buf_json_str(x, t->lang);
	buf_puts(x, ",\"source\":");
	buf_json_str(x, t->source);
	buf_puts(x, "}");
	return x->oom || wk->href.oom ? -ENOMEM : 0;
}

void bbb_tracks_get(struct bbb_ctx *c)
{
	const char *rid = query_get(&c->params, "recordID");
	struct bbb_tracks_walk wk = { .c = c, .rid = rid };
	struct buf list;
	char err[512], msg[BBB_TRACKS_MAX_ID + 32];
	int n;

	if (!rid || !*rid) {
		bbb_reply_json(c, "FAILED", "missingParamRecordID", "You must specify a recordID.",
			       NULL);
		return;
	}
	if (!bbb_tracks_id_ok(rid)) {
		bbb_tracks_none(c, rid);
		return;
	}
	buf_init(&list);
	buf_init(&wk.href);
	wk.out = &list;
	n = db_tracks_list(&c->w->db, c->fe->id, rid, bbb_tracks_one, &wk, err, sizeof(err));
	buf_free(&wk.href);
	if (n == -ENOENT) {
		bbb_tracks_none(c, rid);
	} else if (n < 0) {
		if (n == -EIO)
			log_error("bbb", "event=db_error call=getRecordingTextTracks error=\"%s\"", err);
		bbb_reply_json(c, "FAILED", "internalError", "The service is temporarily unavailable.",
			       NULL);
	} else if (n == 0) { /* as bbb-web answers a recording without captions */
		snprintf(msg, sizeof(msg), "No captions found for %s", rid);
		bbb_reply_json(c, "FAILED", "noCaptionsFound", msg, NULL);
	} else {
		buf_reset(&c->a->body);
		buf_puts(&c->a->body, "{\"response\":{\"returncode\":\"SUCCESS\",\"tracks\":[");
		buf_append(&c->a->body, buf_str(&list), list.len);
		buf_puts(&c->a->body, "]}}");
		bbb_reply_json_ok(c);
	}
	buf_free(&list);
}

/* The WebVTT of the upload's `file` part into vtt; 0, or the answer was given. */
static int bbb_tracks_file(struct bbb_ctx *c, const char *rid, struct buf *vtt)
{
	const char *file = NULL, *why;
	size_t flen = 0;
	int rc;

	rc = rec_vtt_multipart_file(c->req->content_type, c->req->body, c->req->body_len, &file,
				    &flen);
	if (rc == -ENOENT || (rc == 0 && flen == 0)) {
		bbb_reply_json(c, "FAILED", "empty_uploaded_text_track",
			       "Empty uploaded text track.", NULL);
		return -ENOENT;
	}
	if (rc == 0)
		rc = rec_vtt_convert(file, flen, vtt);
	if (rc == 0)
		return 0;
	why = rc == -E2BIG    ? "The text track is larger than 2 MiB."
	      : rc == -ENOMEM ? "Out of memory."
	      : file          ? "The text track is neither WebVTT nor SRT (UTF-8)."
			      : "The request body is not valid multipart/form-data.";
	bbb_reply_json(c, "FAILED", "upload_text_track_failed", why, rid);
	return rc;
}

void bbb_tracks_put(struct bbb_ctx *c)
{
	const char *rid = query_get(&c->params, "recordID");
	const char *kind = query_get(&c->params, "kind");
	const char *lang = query_get(&c->params, "lang");
	const char *label = query_get(&c->params, "label");
	struct db_track_put t;
	struct buf vtt;
	char tag[64], err[512];
	int rc;

	if (!rid || !*rid || !kind || !*kind || !lang || !*lang) {
		bbb_reply_json(c, "FAILED", "paramError",
			       !rid || !*rid   ? "Missing param recordID."
			       : !kind || !*kind ? "Missing param kind."
						 : "Missing param lang.", NULL);
		return;
	}
	if (strcmp(kind, "subtitles") != 0 && strcmp(kind, "captions") != 0) {
		bbb_reply_json(c, "FAILED", "invalidKind",
			       "Invalid kind parameter, expected='subtitles|captions'.", NULL);
		return;
	}
	if (!bbb_tracks_lang(lang, tag, sizeof(tag))) {
		bbb_reply_json(c, "FAILED", "invalidLang", "Malformed lang param.", NULL);
		return;
	}
	if (!label || !*label)
		label = tag;
	if (strlen(label) > BBB_TRACKS_MAX_LABEL || !rec_vtt_utf8_ok(label, strlen(label))) {
		bbb_reply_json(c, "FAILED", "paramError", "The label is not UTF-8 of at most 256 bytes.",
			       NULL);
		return;
	}
	if (!bbb_tracks_id_ok(rid)) {
		bbb_tracks_none(c, rid);
		return;
	}
	buf_init(&vtt);
	if (bbb_tracks_file(c, rid, &vtt) < 0) {
		buf_free(&vtt);
		return;
	}
	t = (struct db_track_put){ .frontend_id = c->fe->id, .record_id = rid, .kind = kind,
				   .lang = tag, .label = label, .content = buf_str(&vtt) };
	/* the row only: the file is written by the recordings thread (the storage may be NFS) */
	rc = db_tracks_put(&c->w->db, &t, err, sizeof(err));
	buf_free(&vtt);
	if (rc == 0) {
		bbb_tracks_none(c, rid);
	} else if (rc == -ENOSPC) {
		snprintf(err, sizeof(err), "The recording has %d text tracks, the most it may have.",
			 DB_TRACKS_MAX);
		bbb_reply_json(c, "FAILED", "upload_text_track_failed", err, rid);
	} else if (rc < 0) {
		log_error("bbb", "event=db_error call=putRecordingTextTrack error=\"%s\"", err);
		bbb_reply_json(c, "FAILED", "internalError", "The service is temporarily unavailable.",
			       NULL);
	} else {
		rec_import_kick();
		bbb_reply_json(c, "SUCCESS", "upload_text_track_success",
			       "Text track uploaded successfully", rid);
	}
}
