// A frontend's recording calls through b3scaled with a real BBB client library
// (bigbluebutton-js from npm), as Greenlight-style apps make them.
//
//   npm install bigbluebutton-js
//   node examples/recordings-client.js http://127.0.0.1:42353/bbb/demo/bigbluebutton/ SECRET [--delete]
//
// Lists the frontend's recordings, then on the first one: sets a meta_ key, unpublishes,
// publishes again, and with --delete deletes it. Exits 1 on the first unexpected answer.
'use strict';
const bbb = require('bigbluebutton-js');

const [base, secret] = process.argv.slice(2);
if (!base || !secret) {
  console.error('usage: node examples/recordings-client.js API_BASE SECRET [--delete]');
  process.exit(2);
}
const api = bbb.api(base, secret);
const call = bbb.http;

function expect(what, answer, key, value) {
  const got = String(answer[key]);
  console.log(`${what}: returncode=${answer.returncode} ${key}=${got}`);
  if (answer.returncode !== 'SUCCESS' || (value !== undefined && got !== value)) {
    console.error(`${what}: unexpected answer ${JSON.stringify(answer)}`);
    process.exit(1);
  }
}

async function state(id) {
  const a = await call(api.recording.getRecordings({ recordID: id }));
  return a.recordings[0];
}

(async () => {
  const list = await call(api.recording.getRecordings({ state: 'any' }));
  if (list.returncode !== 'SUCCESS') throw new Error(JSON.stringify(list));
  const recs = list.recordings || [];
  console.log(`getRecordings: ${recs.length} recording(s)`);
  for (const r of recs) {
    const formats = [].concat(r.playback.format).map((f) => `${f.type} ${f.url}`).join(', ');
    console.log(`  ${r.recordID} meeting=${r.meetingID} state=${r.state} ${formats}`);
  }
  if (!recs.length) return;
  const id = recs[0].recordID;
  expect('updateRecordings', await call(api.recording.updateRecordings(id, { 'meta_bbb-js': 'seen' })), 'updated', 'true');
  const meta = (await state(id)).metadata;
  expect('  metadata', { returncode: 'SUCCESS', 'bbb-js': meta['bbb-js'] }, 'bbb-js', 'seen');
  expect('publishRecordings false', await call(api.recording.publishRecordings(id, false)), 'published', 'false');
  expect('  state', { returncode: 'SUCCESS', state: (await state(id)).state }, 'state', 'unpublished');
  expect('publishRecordings true', await call(api.recording.publishRecordings(id, true)), 'published', 'true');
  expect('  state', { returncode: 'SUCCESS', state: (await state(id)).state }, 'state', 'published');
  if (process.argv.includes('--delete')) {
    expect('deleteRecordings', await call(api.recording.deleteRecordings(id)), 'deleted', 'true');
    const after = await call(api.recording.getRecordings({ recordID: id }));
    expect('  getRecordings', after, 'messageKey', 'noRecordings');
  }
})().catch((e) => { console.error('error', e); process.exit(1); });
