import { PageHeader } from '../../app/PageHeader';

export function StudioPage() {
  return (
    <>
      <PageHeader title="Studio" subtitle="Prompt, paint masks, inpaint and outpaint on the canvas." />
      <section className="empty-state" aria-label="Canvas">
        <p>The canvas arrives with the engine. Until then, set your folders and hardware in Settings.</p>
        <a className="button" href="#/settings">
          Open Settings
        </a>
      </section>
    </>
  );
}
