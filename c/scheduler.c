/* scheduler.c: the create flow.
 *
 * The (frontend, meeting ID) row is the lock: the first request claims it with an
 * INSERT .. ON CONFLICT DO NOTHING, every other request (on any instance) reads it and
 * forwards to the same backend. When that backend fails, the row is moved to a new pick
 * with a compare-and-set, so racing requests converge on one backend again. */
#include "scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend_view.h"
#include "bbb_backend.h"
#include "clock.h"
#include "log.h"
#include "node_loop.h"
#include "placement_size.h"
#include "policy_builtin.h"
#include "policy_stats.h"

#include <stdlib.h>

#define SCHEDULER_MAX_EXCLUDED 32

static int scheduler_is_excluded(const struct scheduler_run *st, const char *id)
{
	size_t i;

	for (i = 0; i < st->nexcluded; i++)
		if (strcmp(st->excluded[i], id) == 0)
			return 1;
	return 0;
}

static void scheduler_exclude(struct scheduler_run *st, const char *id)
{
	if (scheduler_is_excluded(st, id) || st->nexcluded == SCHEDULER_MAX_EXCLUDED)
		return;
	snprintf(st->excluded_ids[st->nexcluded], sizeof(st->excluded_ids[0]), "%s", id);
	st->excluded[st->nexcluded] = st->excluded_ids[st->nexcluded];
	st->nexcluded++;
}

/* What made the policy fail, kept for the placement reason: printable ASCII only (the text
 * may come from anywhere in a policy and becomes a jsonb string). */
static void scheduler_why_error(struct scheduler_run *st, const char *policy, const char *reason)
{
	size_t i;

	snprintf(st->why_error, sizeof(st->why_error), "%.60s: %.190s", policy, reason);
	for (i = 0; st->why_error[i]; i++)
		if ((unsigned char)st->why_error[i] < 0x20 || (unsigned char)st->why_error[i] > 0x7e)
			st->why_error[i] = '?';
}

/* The placement reason of the last pick, for the claim or the move. */
static struct db_placement scheduler_why(const struct scheduler_run *st)
{
	struct db_placement why = { st->by_fallback ? "fallback" : "policy", st->explain.json,
				    st->by_fallback ? st->why_error : NULL };

	return why;
}

/* Asks the policy (or the C fallback when it fails) for a backend; 0 with *pick filled. */
static int scheduler_pick(struct worker *w, const struct scheduler_create *sc,
			  struct scheduler_run *st, struct lb_backend *pick, char *msg,
			  size_t msglen)
{
	struct lb_backend_list bl = { 0 };
	struct backend_view *view;
	struct policy_request pr;
	enum policy_outcome out;
	char reason[512], policy[64];
	size_t idx = 0;
	long long t0;
	double took;
	int rc = 0, fallback = 0;

	if (!st->sized) {
		st->sized = 1;
		if (placement_size_expect(&w->db, sc->fe->id, sc->meeting_id, sc->params,
					  &st->expected_size, &st->expected_source, reason,
					  sizeof(reason)) < 0)
			log_warn("scheduler", "event=size_history_failed frontend=%s error=\"%s\"",
				 sc->fe->key, reason);
		/* the claim stores it with the row (sc is this run's own copy, st->sc) */
		st->sc.call.expected_size = st->expected_source ? st->expected_size : 0;
	}
	view = backend_view_get(&w->db, w->cfg, msg, msglen);
	if (!view)
		return -EIO;
	if (backend_view_list(view, &bl) < 0) {
		backend_view_put(view);
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	/* a node whose circuit is open would fail the create at once: the policy never sees it */
	for (idx = 0; idx < bl.n; idx++)
		if (node_loop_failing_fast(bl.v[idx].id))
			scheduler_exclude(st, bl.v[idx].id);
	idx = 0;
	pr.action = "create";
	pr.meeting_id = sc->meeting_id;
	pr.frontend_key = sc->fe->key;
	pr.settings_json = sc->fe->settings;
	pr.params = sc->params;
	pr.attempt = ++st->attempt;
	pr.excluded = st->excluded;
	pr.nexcluded = st->nexcluded;
	pr.expected_source = st->expected_source;
	pr.expected_size = st->expected_size;
	w->policy = policy_engine_sync(w->policy);
	t0 = clock_mono_us();
	out = policy_select_explain(w->policy, &pr, &bl, &idx, reason, sizeof(reason), policy,
				    sizeof(policy), &st->explain);
	took = (double)(clock_mono_us() - t0) / 1e6;
	if (out == POLICY_OK && scheduler_is_excluded(st, bl.v[idx].id)) {
		out = POLICY_ERR_BADRET;
		snprintf(reason, sizeof(reason), "%s: select returned backend %zu, which already "
						 "failed this request", policy, idx + 1);
	}
	if (out == POLICY_NONE) {
		policy_stats_count(policy, out, 0, took);
		log_info("scheduler", "event=no_backend policy=%s frontend=%s attempt=%u reason=\"%s\"",
			 policy, sc->fe->key, st->attempt, reason);
		snprintf(msg, msglen, "No server is available for this meeting: %.400s", reason);
		rc = -ENOENT;
		goto out;
	}
	if (out != POLICY_OK) {
		policy_stats_log_error(policy, policy_outcome_name(out), sc->fe->key, reason);
		if (w->cfg->policy_reject_on_error) {
			policy_stats_count(policy, out, 0, took);
			snprintf(msg, msglen, "The placement policy failed; the meeting was not created.");
			rc = -ENOENT;
			goto out;
		}
		fallback = 1;
		scheduler_why_error(st, policy, reason);
		rc = policy_builtin_least_load(&bl, sc->fe->required_tags, st->excluded,
					       st->nexcluded, &idx);
		if (rc < 0) {
			policy_stats_count(policy, out, 0, took);
			snprintf(msg, msglen, "No server is available for this meeting%s",
				 rc == -ENOSPC ? ": " POLICY_BUILTIN_FULL_REASON : ".");
			rc = -ENOENT;
			goto out;
		}
	}
	policy_stats_count(policy, out, fallback, took);
	if (lb_backend_copy(pick, &bl.v[idx]) < 0) {
		snprintf(msg, msglen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	backend_view_placed(view, idx, st->expected_source ? st->expected_size : 0);
	st->version = bl.version;
	st->by_fallback = fallback;
	log_info("scheduler", "event=placed policy=%s frontend=%s backend=%s attempt=%u by=%s"
		 " expected=%ld source=%s reason=\"%s\"", policy, sc->fe->key, pick->host,
		 st->attempt, fallback ? "fallback" : "policy", st->expected_size,
		 st->expected_source ? st->expected_source : "default",
		 fallback ? st->why_error : st->explain.reason);
out:
	free(bl.v); /* the strings are the view's */
	backend_view_put(view);
	return rc;
}

/* FAILED answers a node gives because of the request itself; anything else is the node's. */
static int scheduler_client_fault(struct xml_node *doc)
{
	static const char *const keys[] = { "validationError", "missingParamMeetingID",
					    "idNotUnique", "invalidPassword",
					    "parentMeetingIdMissing", "unsupportedContentType",
					    "missingParamName", NULL };
	struct xml_node *errors;
	const char *key = xml_dom_child_text(doc, "messageKey");
	size_t i;

	/* the multi-error envelope (nonUniqueVoiceBridge...) is about the parameters too */
	errors = xml_dom_child(doc, "errors");
	if (!key && errors)
		return 1;
	for (i = 0; key && keys[i]; i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

/* A pick made from a snapshot older than the database's backends (another instance or an
 * operator's SQL changed them, and the notification is still on its way) is made again
 * from a fresh read, as the same attempt. */
static int scheduler_retry(struct scheduler_run *st, int rc)
{
	if (rc != -ESTALE)
		return rc;
	log_info("scheduler", "event=placement_stale version=%lld", st->version);
	backend_view_stale();
	st->attempt--;
	return -EAGAIN;
}

/* Settles which backend the row points at; 0 with *target and *row_id. */
static int scheduler_target(struct worker *w, const struct scheduler_create *sc,
			    struct scheduler_run *st, struct lb_backend *target, long long *row_id,
			    int *confirmed, char *msg, size_t msglen)
{
	struct lb_meeting m;
	struct lb_backend pick;
	int rc;

	memset(&pick, 0, sizeof(pick));
	if (sc->row && !st->row_taken) {
		st->row_taken = 1;
		m = *sc->row;
		memset(sc->row, 0, sizeof(*sc->row));
		rc = sc->row_found ? 0 : -ENOENT;
	} else {
		rc = db_meetings_find(&w->db, sc->fe->id, sc->meeting_id, &m, msg, msglen);
	}
	if (rc == -ENOENT) {
		rc = scheduler_pick(w, sc, st, &pick, msg, msglen);
		if (rc < 0)
			return rc;
		struct db_placement why = scheduler_why(st);

		rc = db_meetings_claim(&w->db, sc->fe->id, sc->meeting_id, sc->backend_meeting_id,
				       pick.id, st->version, sc->fe->meetings_limit, &sc->call, &why,
				       row_id, msg, msglen);
		if (rc == 0) {
			*target = pick;
			*confirmed = 0;
			st->claimed = 1;
			return 0;
		}
		lb_backend_clear(&pick);
		if (rc == -EDQUOT)
			return rc; /* a new meeting over the frontend's meetings_limit */
		return scheduler_retry(st, rc); /* -EEXIST: somebody else claimed it, read again */
	}
	if (rc < 0)
		return rc;
	*row_id = m.id;
	*confirmed = m.confirmed;
	if (m.has_backend && lb_backend_reachable(&m.backend) &&
	    !scheduler_is_excluded(st, m.backend.id)) {
		*target = m.backend;
		memset(&m.backend, 0, sizeof(m.backend));
		lb_meeting_clear(&m);
		return 0;
	}
	if (m.has_backend)
		scheduler_exclude(st, m.backend.id);
	rc = scheduler_pick(w, sc, st, &pick, msg, msglen);
	if (rc == 0) {
		struct db_placement why = scheduler_why(st);

		rc = db_meetings_move(&w->db, m.id, m.has_backend ? m.backend.id : NULL, pick.id,
				      st->version, &why, msg, msglen);
	}
	if (rc == 0) {
		log_info("scheduler", "event=moved frontend=%s backend=%s", sc->fe->key, pick.host);
		*target = pick;
	} else {
		lb_backend_clear(&pick);
	}
	lb_meeting_clear(&m);
	return scheduler_retry(st, rc); /* -EAGAIN: lost the race to move it, read again */
}

static void scheduler_confirm(struct worker *w, const struct scheduler_create *sc,
			      long long row_id, const struct lb_backend *b, struct xml_node *doc)
{
	struct db_create_answer ans;
	char err[512];
	long long again = 0;
	int rc;

	ans.internal_id = xml_dom_child_text(doc, "internalMeetingID");
	ans.create_time = xml_dom_child_text(doc, "createTime");
	ans.attendee_pw = xml_dom_child_text(doc, "attendeePW");
	ans.moderator_pw = xml_dom_child_text(doc, "moderatorPW");
	ans.name = query_get(sc->params, "name");
	if (ans.create_time && strspn(ans.create_time, "0123456789") != strlen(ans.create_time))
		ans.create_time = NULL;
	if (ans.create_time && !*ans.create_time)
		ans.create_time = NULL;
	rc = db_meetings_confirm(&w->db, row_id, b->id, &sc->call, &ans, err, sizeof(err));
	if (rc == -ENOENT) {
		/* the row went away while the node created the meeting (or moved on): the node
		 * runs it now, so the placement is written again rather than lost */
		rc = db_meetings_claim(&w->db, sc->fe->id, sc->meeting_id, sc->backend_meeting_id,
				       b->id, -1, 0, &sc->call, NULL, &again, err, sizeof(err));
		if (rc == 0)
			rc = db_meetings_confirm(&w->db, again, b->id, &sc->call, &ans, err,
						 sizeof(err));
		log_warn("scheduler", "event=confirm_row_missing frontend=%s backend=%s restored=%s",
			 sc->fe->key, b->host, rc == 0 ? "yes" : "no (another placement holds it)");
		return;
	}
	if (rc < 0)
		log_error("scheduler", "event=confirm_failed frontend=%s error=\"%s\"", sc->fe->key,
			  err);
}

struct scheduler_run *scheduler_run_new(const struct scheduler_create *sc)
{
	struct scheduler_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->sc = *sc;
	r->key = "internalError";
	return r;
}

void scheduler_run_free(struct scheduler_run *r)
{
	if (!r)
		return;
	lb_backend_clear(&r->target);
	xml_dom_free(r->answer);
	free(r);
}

/* The end of a run; a claim no backend confirmed must not make later creates wait for a
 * dead node. */
static enum scheduler_step scheduler_fail(struct worker *w, struct scheduler_run *r, int rc)
{
	char err[512];

	r->rc = rc;
	if (r->claimed && r->row_id &&
	    db_meetings_drop_claim(&w->db, r->row_id, err, sizeof(err)) < 0)
		log_error("scheduler", "event=drop_failed error=\"%s\"", err);
	return SCHEDULER_DONE;
}

enum scheduler_step scheduler_next(struct worker *w, struct scheduler_run *r)
{
	int rc;

	lb_backend_clear(&r->target);
	while (r->loops++ < 4 * w->cfg->max_attempts + 4) {
		rc = scheduler_target(w, &r->sc, r, &r->target, &r->row_id, &r->confirmed, r->msg,
				      sizeof(r->msg));
		if (rc == -EEXIST || rc == -EAGAIN)
			continue;
		if (rc == -ENOENT)
			return scheduler_fail(w, r, rc); /* msg says why no backend qualifies */
		if (rc == -EDQUOT) {
			log_info("scheduler", "event=meetings_limit frontend=%s limit=%ld",
				 r->sc.fe->key, r->sc.fe->meetings_limit);
			r->key = "maxMeetingsReached";
			snprintf(r->msg, sizeof(r->msg), "The meeting limit of this frontend has "
							 "been reached.");
			return scheduler_fail(w, r, rc);
		}
		if (rc < 0) {
			log_error("scheduler", "event=db_error frontend=%s error=\"%s\"", r->sc.fe->key,
				  r->msg);
			snprintf(r->msg, sizeof(r->msg),
				 "The meeting could not be placed (database unavailable).");
			r->rc = rc;
			return SCHEDULER_DONE;
		}
		return SCHEDULER_CALL;
	}
	snprintf(r->msg, sizeof(r->msg), "Unable to create the meeting: no server accepted it.");
	return scheduler_fail(w, r, -EHOSTUNREACH);
}

enum scheduler_step scheduler_answered(struct worker *w, struct scheduler_run *r, int rc,
				       struct xml_node *doc, const char *err)
{
	const struct scheduler_create *sc = &r->sc;
	const char *rcode = rc == 0 ? bbb_backend_returncode(doc) : NULL;
	char why[512], derr[512];

	if (rc == 0 && (strcmp(rcode, "SUCCESS") == 0 || scheduler_client_fault(doc))) {
		if (strcmp(rcode, "SUCCESS") == 0)
			scheduler_confirm(w, sc, r->row_id, &r->target, doc);
		else if (r->claimed &&
			 db_meetings_drop_claim(&w->db, r->row_id, derr, sizeof(derr)) < 0)
			log_error("scheduler", "event=drop_failed error=\"%s\"", derr);
		snprintf(sc->placed_host, sc->placed_host_len, "%s", r->target.host);
		lb_backend_clear(&r->target);
		r->answer = doc;
		r->rc = 0;
		return SCHEDULER_DONE;
	}
	if (rc == 0)
		snprintf(why, sizeof(why), "FAILED %s",
			 xml_dom_child_text(doc, "messageKey") ? xml_dom_child_text(doc, "messageKey")
							       : "(no messageKey)");
	else
		snprintf(why, sizeof(why), "%s", err);
	log_warn("scheduler", "event=backend_failed call=create frontend=%s backend=%s error=\"%s\"",
		 sc->fe->key, r->target.host, why);
	xml_dom_free(doc);
	scheduler_exclude(r, r->target.id);
	lb_backend_clear(&r->target);
	if (++r->failures >= w->cfg->max_attempts) {
		snprintf(r->msg, sizeof(r->msg), "Unable to create the meeting: no server accepted it.");
		return scheduler_fail(w, r, -EHOSTUNREACH);
	}
	return scheduler_next(w, r);
}
