function vlSearch(entries, videos, pick){
  var input=document.getElementById('q'), list=document.getElementById('hits'), count=document.getElementById('hit-count');
  var LABEL={speech:'speech', text:'on screen', person:'person'};
  function norm(x){ return String(x||'').normalize('NFKC').toLowerCase(); }
  function fmt(t){ t=Math.max(0,t); var m=Math.floor(t/60), s=t-60*m; return m+':'+(s<10?'0':'')+s.toFixed(1); }
  entries.forEach(function(e){ e.d=String(e.t||'').normalize('NFKC'); e.n=e.d.toLowerCase(); });
  function run(){
    var q=norm(input.value).trim(); list.textContent='';
    if(!q){ count.textContent=''; return; }
    var hits=entries.filter(function(e){ return e.n.indexOf(q)>=0; });
    hits.sort(function(a,b){ return (a.v||0)-(b.v||0) || a.s-b.s; });
    count.textContent=hits.length+(hits.length==1?' hit':' hits')+(hits.length>500?' (first 500 shown)':'');
    hits.slice(0,500).forEach(function(e){
      var li=document.createElement('li'); li.className='hit'; li.dataset.start=e.s; li.dataset.end=e.e;
      li.dataset.kind=e.k; if(e.v!==undefined) li.dataset.video=e.v;
      var tm=document.createElement('time'); tm.textContent=fmt(e.s)+'–'+fmt(e.e); li.appendChild(tm);
      var kd=document.createElement('span'); kd.className='kind '+e.k; kd.textContent=LABEL[e.k]||e.k; li.appendChild(kd);
      if(videos.length){ var vn=document.createElement('span'); vn.className='vname';
        vn.textContent=videos[e.v].name; li.appendChild(vn); }
      var tx=document.createElement('span'); tx.className='htext'; var k=e.n.indexOf(q);
      if(e.n.length==e.d.length&&k>=0){
        tx.appendChild(document.createTextNode(e.d.slice(0,k)));
        var mk=document.createElement('mark'); mk.textContent=e.d.slice(k,k+q.length); tx.appendChild(mk);
        tx.appendChild(document.createTextNode(e.d.slice(k+q.length)));
      } else tx.textContent=e.d;
      li.appendChild(tx);
      li.addEventListener('click',function(){ pick(e); });
      list.appendChild(li);
    });
  }
  input.addEventListener('input',run);
  if(input.value) run();
}
