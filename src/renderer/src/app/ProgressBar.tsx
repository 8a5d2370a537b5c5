/** A progress bar that assistive technology reads as one: `done` of `total`, shown as a percentage. */
export function ProgressBar(props: { label: string; done: number; total: number }) {
  const percent = props.total > 0 ? Math.round((Math.min(props.done, props.total) / props.total) * 100) : 100;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
    >
      <div className="progress-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}
