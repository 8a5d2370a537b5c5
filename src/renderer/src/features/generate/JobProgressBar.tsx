import { ProgressBar } from '../../app/ProgressBar';
import type { Job, JobProgress } from '@contract';

function formatEta(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s left` : `${s} s left`;
}

/** Step, it/s and ETA of a job, as a real progressbar for assistive technology. */
export function JobProgressBar(props: { job: Job; progress: JobProgress | undefined }) {
  const { job, progress: p } = props;
  const runs = p?.runs ?? job.request.batchCount;
  const fraction = p ? (p.run + p.step / p.total) / runs : job.status === 'done' ? 1 : 0;
  const label =
    job.status === 'queued'
      ? 'Waiting in the queue'
      : job.status === 'running'
        ? p
          ? `Step ${p.step} of ${p.total}${runs > 1 ? ` · image ${p.run + 1} of ${runs}` : ''}${p.itPerSec ? ` · ${p.itPerSec.toFixed(2)} it/s` : ''}${p.etaMs !== null ? ` · ${formatEta(p.etaMs)}` : ''}`
          : 'Loading the model…'
        : job.status === 'done'
          ? `Done${job.provider ? ` on ${job.provider.toUpperCase()}` : ''}`
          : job.status === 'failed'
            ? 'Failed'
            : 'Cancelled';
  return (
    <div className="job-progress">
      <ProgressBar label="Generation progress" done={fraction} total={1} />
      <span className="muted" data-testid="job-status">
        {label}
      </span>
    </div>
  );
}
