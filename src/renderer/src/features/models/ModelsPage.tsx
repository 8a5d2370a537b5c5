import { useSettings } from '../../api/StudioProvider';
import { PageHeader } from '../../app/PageHeader';

export function ModelsPage() {
  const { settings } = useSettings();
  return (
    <>
      <PageHeader title="Models" subtitle="Checkpoints in diffusers ONNX layout, LoRAs and embeddings." />
      <section className="empty-state" aria-label="Model library">
        <p>Sumi Studio looks for models in</p>
        <code data-testid="models-dir">{settings?.modelsDir ?? '…'}</code>
      </section>
    </>
  );
}
