/** @module Opens the store a recipe describes, on the thread that calls it. */
import type { OpenedStore, OpenStore, StoreRecipe } from './extension.ts';

export async function openRecipe(recipe: StoreRecipe): Promise<OpenedStore> {
  const module = (await import(recipe.module)) as { openStore: OpenStore };
  return module.openStore(recipe.options as never);
}
