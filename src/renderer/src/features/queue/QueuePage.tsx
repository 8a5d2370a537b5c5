import { PageHeader } from '../../app/PageHeader';

export function QueuePage() {
  return (
    <>
      <PageHeader title="Queue" subtitle="Jobs run one at a time on your accelerator, in this order." />
      <section className="empty-state" aria-label="Jobs">
        <p>Nothing queued.</p>
      </section>
    </>
  );
}
