package notebook

import "github.com/janpfeifer/gonb/gonbui"

// The displays below wait until GoNB has the content: a cell's program that ends right after
// displaying would otherwise race GoNB closing its pipe, and the last figures of a cell could be
// lost (seen under load: a notebook with two of its four figures, and no error).

func displayHTML(h string) {
	gonbui.DisplayHTML(h)
	gonbui.Sync()
}

func displayPNG(png []byte) {
	gonbui.DisplayPNG(png)
	gonbui.Sync()
}

func displayMarkdown(text string) {
	gonbui.DisplayMarkdown(text)
	gonbui.Sync()
}

func updateHTML(id, h string) {
	gonbui.UpdateHTML(id, h)
	gonbui.Sync()
}
