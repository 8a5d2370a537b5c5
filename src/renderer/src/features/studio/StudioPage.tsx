import { PageHeader } from '../../app/PageHeader';
import { GeneratePanel } from '../generate/GeneratePanel';

export function StudioPage() {
  return (
    <>
      <PageHeader
        title="Studio"
        subtitle="Prompt and generate on your own hardware. The canvas for masks comes next."
      />
      <GeneratePanel />
    </>
  );
}
