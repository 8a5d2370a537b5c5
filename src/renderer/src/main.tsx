import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from './api/client';
import { StudioProvider } from './api/StudioProvider';
import { pickTransport } from './api/transport';
import { App } from './app/App';
import './app/theme.css';

const { kind, transport } = pickTransport();
const client = createClient(transport);

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element.');
createRoot(root).render(
  <StrictMode>
    <StudioProvider client={client} hostKind={kind}>
      <App />
    </StudioProvider>
  </StrictMode>,
);
