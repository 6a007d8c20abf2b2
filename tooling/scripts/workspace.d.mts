export interface WorkspaceManifest {
  readonly name: string;
  readonly scripts?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

export interface WorkspacePackage {
  readonly dir: string;
  readonly manifest: WorkspaceManifest;
}

export function workspacePackages(root: string): WorkspacePackage[];
