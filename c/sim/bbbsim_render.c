/* bbbsim_render.c: meeting XML exactly in bbb-web's element order (frontends parse by order
 * rarely, but recorded fixtures are compared by tests, so keep it faithful). */
#include "bbbsim_render.h"

#include <errno.h>
#include <string.h>

#include "bbb_xml.h"

static void bbbsim_render_num(struct buf *out, const char *name, long long v)
{
	buf_printf(out, "<%s>%lld</%s>", name, v, name);
}

static void bbbsim_render_bool(struct buf *out, const char *name, int v)
{
	buf_printf(out, "<%s>%s</%s>", name, v ? "true" : "false", name);
}

/* Free-form children (metadata, customdata); the keys were validated as XML-safe names. */
static void bbbsim_render_kv(struct buf *out, const char *name, const struct bbbsim_kvlist *l,
			     int omit_empty)
{
	size_t i;

	if (l->n == 0) {
		if (!omit_empty)
			buf_printf(out, "<%s/>", name);
		return;
	}
	buf_printf(out, "<%s>", name);
	for (i = 0; i < l->n; i++)
		bbb_xml_elem(out, l->v[i].key, l->v[i].value);
	buf_printf(out, "</%s>", name);
}

int bbbsim_render_create(struct buf *out, const struct bbbsim_meeting *m, const char *key,
			 const char *message)
{
	buf_puts(out, "<response><returncode>SUCCESS</returncode>");
	bbb_xml_elem(out, "meetingID", m->meeting_id);
	bbb_xml_elem(out, "internalMeetingID", m->internal_id);
	bbb_xml_elem(out, "parentMeetingID", "bbb-none");
	bbb_xml_elem(out, "attendeePW", m->attendee_pw);
	bbb_xml_elem(out, "moderatorPW", m->moderator_pw);
	bbbsim_render_num(out, "createTime", m->create_time);
	bbb_xml_elem(out, "voiceBridge", m->voice_bridge);
	bbb_xml_elem(out, "dialNumber", m->dial_number);
	bbb_xml_elem(out, "createDate", m->create_date);
	bbbsim_render_bool(out, "hasUserJoined", m->has_user_joined);
	bbbsim_render_num(out, "duration", m->duration);
	bbbsim_render_bool(out, "hasBeenForciblyEnded", 0);
	bbb_xml_elem(out, "messageKey", key ? key : "");
	bbb_xml_elem(out, "message", message ? message : "");
	buf_puts(out, "</response>");
	return out->oom ? -ENOMEM : 0;
}

static void bbbsim_render_attendee(struct buf *out, const struct bbbsim_attendee *a)
{
	buf_puts(out, "<attendee>");
	/* bbb-web's templates print the internal ID here (att.getInternalUserId()): the one
	 * BBB's Redis events carry */
	bbb_xml_elem(out, "userID", a->internal_id);
	bbb_xml_elem(out, "fullName", a->full_name);
	bbb_xml_elem(out, "role", a->moderator ? "MODERATOR" : "VIEWER");
	bbbsim_render_bool(out, "isPresenter", a->presenter);
	bbbsim_render_bool(out, "isListeningOnly", a->listen_only);
	bbbsim_render_bool(out, "hasJoinedVoice", a->voice);
	bbbsim_render_bool(out, "hasVideo", a->video);
	bbb_xml_elem(out, "clientType", "HTML5");
	bbbsim_render_kv(out, "customdata", &a->custom, 1);
	buf_puts(out, "</attendee>");
}

int bbbsim_render_meeting(struct buf *out, const struct bbbsim_meeting *m)
{
	struct bbbsim_counts c;
	size_t i;

	bbbsim_state_counts(m, &c);
	bbb_xml_elem(out, "meetingName", m->name);
	bbb_xml_elem(out, "meetingID", m->meeting_id);
	bbb_xml_elem(out, "internalMeetingID", m->internal_id);
	bbbsim_render_num(out, "createTime", m->create_time);
	bbb_xml_elem(out, "createDate", m->create_date);
	bbb_xml_elem(out, "voiceBridge", m->voice_bridge);
	bbb_xml_elem(out, "dialNumber", m->dial_number);
	bbb_xml_elem(out, "attendeePW", m->attendee_pw);
	bbb_xml_elem(out, "moderatorPW", m->moderator_pw);
	bbbsim_render_bool(out, "running", m->natt > 0);
	bbbsim_render_num(out, "duration", m->duration);
	bbbsim_render_bool(out, "hasUserJoined", m->has_user_joined);
	bbbsim_render_bool(out, "recording", m->record);
	bbbsim_render_bool(out, "hasBeenForciblyEnded", 0);
	bbbsim_render_num(out, "startTime", m->start_time);
	bbbsim_render_num(out, "endTime", 0);
	bbbsim_render_num(out, "participantCount", (long long)c.participants);
	bbbsim_render_num(out, "listenerCount", (long long)c.listeners);
	bbbsim_render_num(out, "voiceParticipantCount", (long long)c.voice);
	bbbsim_render_num(out, "videoCount", (long long)c.video);
	bbbsim_render_num(out, "maxUsers", m->max_users);
	bbbsim_render_num(out, "moderatorCount", (long long)c.moderators);
	if (m->natt == 0) {
		buf_puts(out, "<attendees/>");
	} else {
		buf_puts(out, "<attendees>");
		for (i = 0; i < m->natt; i++)
			bbbsim_render_attendee(out, &m->att[i]);
		buf_puts(out, "</attendees>");
	}
	bbbsim_render_kv(out, "metadata", &m->meta, 0);
	bbbsim_render_bool(out, "isBreakout", m->is_breakout);
	if (m->is_breakout) { /* flat, as bbb-web's template prints them */
		bbb_xml_elem(out, "parentMeetingID", m->parent_id);
		bbbsim_render_num(out, "sequence", m->sequence);
		bbbsim_render_bool(out, "freeJoin", 0);
	}
	if (m->breakouts) {
		const char *p = m->breakouts, *comma;
		buf_puts(out, "<breakoutRooms>");
		for (; p; p = comma ? comma + 1 : NULL) {
			comma = strchr(p, ',');
			buf_puts(out, "<breakout>");
			buf_append(out, p, comma ? (size_t)(comma - p) : strlen(p));
			buf_puts(out, "</breakout>");
		}
		buf_puts(out, "</breakoutRooms>");
	}
	return out->oom ? -ENOMEM : 0;
}

int bbbsim_render_meeting_info(struct buf *out, const struct bbbsim_meeting *m)
{
	buf_puts(out, "<response><returncode>SUCCESS</returncode>");
	bbbsim_render_meeting(out, m);
	buf_puts(out, "</response>");
	return out->oom ? -ENOMEM : 0;
}

int bbbsim_render_meetings(struct buf *out, const struct bbbsim_meeting *list)
{
	const struct bbbsim_meeting *m;

	buf_puts(out, "<response><returncode>SUCCESS</returncode>");
	if (!list) {
		buf_puts(out, "<meetings/>");
		bbb_xml_elem(out, "messageKey", "noMeetings");
		bbb_xml_elem(out, "message", "no meetings were found on this server");
	} else {
		buf_puts(out, "<meetings>");
		for (m = list; m; m = m->next) {
			buf_puts(out, "<meeting>");
			bbbsim_render_meeting(out, m);
			buf_puts(out, "</meeting>");
		}
		buf_puts(out, "</meetings>");
	}
	buf_puts(out, "</response>");
	return out->oom ? -ENOMEM : 0;
}

int bbbsim_render_join(struct buf *out, const struct bbbsim_meeting *m,
		       const struct bbbsim_attendee *a, const char *auth_token,
		       const char *session_token, const char *url)
{
	buf_puts(out, "<response><returncode>SUCCESS</returncode>");
	bbb_xml_elem(out, "messageKey", "successfullyJoined");
	bbb_xml_elem(out, "message", "You have joined successfully.");
	bbb_xml_elem(out, "meeting_id", m->internal_id);
	bbb_xml_elem(out, "user_id", a->internal_id);
	bbb_xml_elem(out, "auth_token", auth_token);
	bbb_xml_elem(out, "session_token", session_token);
	bbb_xml_elem(out, "guestStatus", "ALLOW");
	bbb_xml_elem(out, "url", url);
	buf_puts(out, "</response>");
	return out->oom ? -ENOMEM : 0;
}
