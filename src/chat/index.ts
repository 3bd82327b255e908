// `import 'webmoe/chat'` (or <script type="module" src="webmoe-chat.js">): defines <webmoe-chat>.
import { WebMoEChat } from './element.ts';

export { WebMoEChat, type ChatState, type WebMoEChatEventMap } from './element.ts';
export { ModelRegistry, sharedModels, type Lease, type LoadUpdate, type ModelRequest } from './registry.ts';
export { splitReasoning, type Reasoned } from './reasoning.ts';

// A second copy of this module on the page (two bundles) must not throw.
if (!customElements.get('webmoe-chat')) customElements.define('webmoe-chat', WebMoEChat);
