import { useSettings } from '../../api/StudioProvider';
import { PageHeader } from '../../app/PageHeader';

export function GalleryPage() {
  const { settings } = useSettings();
  return (
    <>
      <PageHeader title="Gallery" subtitle="Every generation, with its full recipe and seed." />
      <section className="empty-state" aria-label="Images">
        <p>No images yet. Finished generations are saved to</p>
        <code data-testid="output-dir">{settings?.outputDir ?? '…'}</code>
      </section>
    </>
  );
}
