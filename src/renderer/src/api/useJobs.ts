import { useEffect, useState } from 'react';
import type { Job, JobProgress } from '@contract';
import { useStudio } from './StudioProvider';

/** All jobs the host knows, newest last, and the latest progress of each, kept current by events. */
export function useJobs(): { jobs: Job[]; progress: Record<string, JobProgress> } {
  const { client } = useStudio();
  const [jobs, setJobs] = useState<Job[]>([]);
  const [progress, setProgress] = useState<Record<string, JobProgress>>({});
  useEffect(() => {
    let live = true;
    client.invoke('jobs.list', {}).then(
      (list) => live && setJobs(list),
      () => undefined,
    );
    const offUpdated = client.on('job.updated', (job) =>
      setJobs((list) => {
        const i = list.findIndex((j) => j.id === job.id);
        if (i < 0) return [...list, job];
        const next = [...list];
        next[i] = job;
        return next;
      }),
    );
    const offProgress = client.on('job.progress', (p) => setProgress((all) => ({ ...all, [p.id]: p })));
    return () => {
      live = false;
      offUpdated();
      offProgress();
    };
  }, [client]);
  return { jobs, progress };
}
