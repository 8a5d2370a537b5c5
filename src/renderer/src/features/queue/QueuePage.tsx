import { useStudio } from '../../api/StudioProvider';
import { useJobs } from '../../api/useJobs';
import { PageHeader } from '../../app/PageHeader';
import { JobProgressBar } from '../generate/JobProgressBar';

export function QueuePage() {
  const { client } = useStudio();
  const { jobs, progress } = useJobs();
  const ordered = [...jobs].reverse();
  return (
    <>
      <PageHeader title="Queue" subtitle="Jobs run one at a time on your accelerator, in this order." />
      {ordered.length === 0 ? (
        <section className="empty-state" aria-label="Jobs">
          <p>Nothing queued.</p>
        </section>
      ) : (
        <ul className="job-list" aria-label="Jobs">
          {ordered.map((job) => (
            <li key={job.id}>
              <div>
                <div>{job.request.prompt || <span className="muted">(no prompt)</span>}</div>
                <JobProgressBar job={job} progress={progress[job.id]} />
              </div>
              {(job.status === 'queued' || job.status === 'running') && (
                <button
                  type="button"
                  className="secondary"
                  onClick={() => void client.invoke('jobs.cancel', { id: job.id })}
                >
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
