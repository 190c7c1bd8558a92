/* bbbsim_record.c: see bbbsim_record.h. The metadata.xml follows what BBB's recording
 * scripts write (a real one is in ../shared/fixtures/bbb-responses/recording-metadata.xml);
 * the media are a few placeholder bytes. */
#include "bbbsim_record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bbb_xml.h"
#include "buf.h"
#include "xml_dom.h"

static int bbbsim_record_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[4096];
	FILE *f;
	int ok;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	ok = fwrite(data, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	return ok ? 0 : -EIO;
}

/* Appends name="escaped value" (with the space before it). */
static void bbbsim_record_attr(struct buf *x, const char *name, const char *value)
{
	buf_printf(x, " %s=\"", name);
	xml_dom_escape(x, value);
	buf_puts(x, "\"");
}

static void bbbsim_record_metadata(const struct bbbsim_state *st, const struct bbbsim_meeting *m,
				   long long end_ms, struct buf *x)
{
	char num[32];
	size_t i;

	buf_puts(x, "<?xml version=\"1.0\"?>\n<recording>");
	bbb_xml_elem(x, "id", m->internal_id);
	buf_puts(x, "<state>published</state><published>true</published>");
	snprintf(num, sizeof(num), "%lld", m->create_time);
	bbb_xml_elem(x, "start_time", num);
	snprintf(num, sizeof(num), "%lld", end_ms);
	bbb_xml_elem(x, "end_time", num);
	snprintf(num, sizeof(num), "%zu", m->natt);
	bbb_xml_elem(x, "participants", num);
	buf_puts(x, "<meeting");
	bbbsim_record_attr(x, "id", m->internal_id);
	bbbsim_record_attr(x, "externalId", m->meeting_id);
	bbbsim_record_attr(x, "name", m->name);
	bbbsim_record_attr(x, "breakout", m->is_breakout ? "true" : "false");
	buf_puts(x, "/><meta>");
	bbb_xml_elem(x, "meetingName", m->name);
	bbb_xml_elem(x, "isBreakout", m->is_breakout ? "true" : "false");
	bbb_xml_elem(x, "meetingId", m->meeting_id);
	for (i = 0; i < m->meta.n; i++)
		bbb_xml_elem(x, m->meta.v[i].key, m->meta.v[i].value);
	buf_puts(x, "</meta><playback><format>presentation</format><link>");
	xml_dom_escape(x, st->hostname);
	buf_puts(x, "/playback/presentation/2.3/");
	xml_dom_escape(x, m->internal_id);
	buf_puts(x, "</link><processing_time>1234</processing_time>");
	snprintf(num, sizeof(num), "%lld", end_ms > m->create_time ? end_ms - m->create_time : 0);
	bbb_xml_elem(x, "duration", num);
	buf_puts(x, "<size>42</size></playback><raw_size>4242</raw_size></recording>\n");
}

int bbbsim_record_write(const struct bbbsim_state *st, const struct bbbsim_meeting *m,
			long long end_ms, char *err, size_t errlen)
{
	static const char shapes[] = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n";
	static const char webm[] = "bbbsim placeholder video\n";
	char fmt[4096], tmp[4096], final[4096], sub[4096];
	struct buf x;
	int rc;

	if (snprintf(fmt, sizeof(fmt), "%s/presentation", st->recordings_dir) >= (int)sizeof(fmt) ||
	    snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", st->recordings_dir, m->internal_id) >= (int)sizeof(tmp) ||
	    snprintf(final, sizeof(final), "%s/%s", fmt, m->internal_id) >= (int)sizeof(final) ||
	    snprintf(sub, sizeof(sub), "%s/video", tmp) >= (int)sizeof(sub)) {
		snprintf(err, errlen, "recording path too long");
		return -ENAMETOOLONG;
	}
	if ((mkdir(st->recordings_dir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(fmt, 0755) < 0 && errno != EEXIST) || mkdir(tmp, 0755) < 0 ||
	    mkdir(sub, 0755) < 0) {
		rc = -errno;
		snprintf(err, errlen, "mkdir under %s: %s", st->recordings_dir, strerror(errno));
		return rc;
	}
	buf_init(&x);
	bbbsim_record_metadata(st, m, end_ms, &x);
	rc = x.oom ? -ENOMEM : bbbsim_record_file(tmp, "metadata.xml", x.data, x.len);
	if (rc == 0)
		rc = bbbsim_record_file(tmp, "shapes.svg", shapes, sizeof(shapes) - 1);
	if (rc == 0)
		rc = bbbsim_record_file(tmp, "video/webcams.webm", webm, sizeof(webm) - 1);
	buf_free(&x);
	/* a watcher sees the whole tree or nothing */
	if (rc == 0 && rename(tmp, final) < 0)
		rc = -errno;
	if (rc < 0)
		snprintf(err, errlen, "writing %s: %s", final, strerror(-rc));
	return rc;
}
