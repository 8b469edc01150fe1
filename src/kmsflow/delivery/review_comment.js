// The body of the pull-request workflow's actions/github-script step (inlined there by `make workflows`):
// the review's Markdown as ONE comment on the pull request, updated in place on every push, found by its marker.
// In scope, as github-script gives them: github (Octokit), context, core, require. Environment: REVIEW_MARKDOWN
// (the file), RUN_URL (where the run's artifacts are).
const fs = require('fs');
const MARKER = '<!-- kmsflow-review -->';
// GitHub refuses a comment body over 65,536 characters; the review's Markdown is cut to 64,000 bytes already,
// so this only guards against a report written by something else.
const LIMIT = 65536;
let body = `${MARKER}\n${fs.readFileSync(process.env.REVIEW_MARKDOWN, 'utf8')}`;
if (body.length > LIMIT) {
  body = `${MARKER}\nThe kmsflow review does not fit in a comment: see the job summary and the review-pr artifact of ${process.env.RUN_URL}.`;
}
const { owner, repo } = context.repo;
const issue_number = context.payload.pull_request.number;
const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number, per_page: 100 });
// Only a comment this workflow wrote (a bot's, starting with the marker): a person quoting the marker is left alone.
const previous = comments.find(
  (comment) => comment.user && comment.user.type === 'Bot' && typeof comment.body === 'string' && comment.body.startsWith(MARKER),
);
if (previous) {
  await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body });
  core.info(`kmsflow review: updated comment ${previous.id}`);
} else {
  const { data } = await github.rest.issues.createComment({ owner, repo, issue_number, body });
  core.info(`kmsflow review: created comment ${data.id}`);
}
